// StartupMessage (no tag): Int32 len, Int32 protocol version 196608 (3.0), then String name / String
// value pairs, ended by a zero byte. `user` is required; `replication=database` makes the backend a
// walsender that also accepts replication commands.

import { ProtocolError } from '../../errors.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const PROTOCOL_VERSION_3_0 = 196608; // 3 << 16

export interface StartupMessage {
  readonly type: 'StartupMessage';
  readonly parameters: ReadonlyArray<readonly [string, string]>;
}

export function encodeStartupMessage(m: StartupMessage): Buffer {
  const w = new Writer(undefined, 256).i32(PROTOCOL_VERSION_3_0);
  for (const [k, v] of m.parameters) w.cstring(k).cstring(v);
  return w.u8(0).finish();
}

/** Decodes the body of an untagged packet already known to carry protocol 3.0 (see ssl-request.ts). */
export function decodeStartupMessage(body: Buffer): StartupMessage {
  const r = new Reader(body, 'StartupMessage');
  const version = r.i32();
  if (version !== PROTOCOL_VERSION_3_0) {
    throw new ProtocolError(
      'WALDUCK_MALFORMED_MESSAGE',
      'startup',
      `StartupMessage: protocol ${version >> 16}.${version & 0xffff}`,
    );
  }
  const parameters: [string, string][] = [];
  for (let k = r.cstring(); k !== ''; k = r.cstring()) parameters.push([k, r.cstring()]);
  r.end();
  return { type: 'StartupMessage', parameters };
}
