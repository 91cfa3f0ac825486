// NegotiateProtocolVersion ('v'): Byte1('v') Int32 len, Int32 newest minor version the server
// supports, Int32 count, then that many String option names it did not recognise.

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const NEGOTIATE_PROTOCOL_VERSION = 0x76; // 'v'

export interface NegotiateProtocolVersion {
  readonly type: 'NegotiateProtocolVersion';
  readonly minorVersion: number;
  readonly unrecognized: readonly string[];
}

export function decodeNegotiateProtocolVersion(body: Buffer): NegotiateProtocolVersion {
  const r = new Reader(body, 'NegotiateProtocolVersion');
  const minorVersion = r.i32();
  const n = r.i32();
  const unrecognized: string[] = [];
  for (let i = 0; i < n; i++) unrecognized.push(r.cstring());
  r.end();
  return { type: 'NegotiateProtocolVersion', minorVersion, unrecognized };
}

export function encodeNegotiateProtocolVersion(m: NegotiateProtocolVersion): Buffer {
  const w = new Writer(NEGOTIATE_PROTOCOL_VERSION).i32(m.minorVersion).i32(m.unrecognized.length);
  for (const o of m.unrecognized) w.cstring(o);
  return w.finish();
}
