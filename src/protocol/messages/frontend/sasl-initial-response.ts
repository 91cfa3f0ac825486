// SASLInitialResponse ('p'): Byte1('p') Int32 len, String mechanism, Int32 length of the initial
// response (-1 = none), Byte[n] initial response (SCRAM's client-first-message).

import { ProtocolError } from '../../errors.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';
import { PASSWORD_MESSAGE } from './password-message.js';

export interface SASLInitialResponse {
  readonly type: 'SASLInitialResponse';
  readonly mechanism: string;
  readonly data: Buffer | null;
}

export function encodeSASLInitialResponse(m: SASLInitialResponse): Buffer {
  const w = new Writer(PASSWORD_MESSAGE).cstring(m.mechanism);
  if (m.data === null) w.i32(-1);
  else w.i32(m.data.length).bytes(m.data);
  return w.finish();
}

export function decodeSASLInitialResponse(body: Buffer): SASLInitialResponse {
  const r = new Reader(body, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const n = r.i32();
  if (n < -1)
    throw new ProtocolError('WALDUCK_MALFORMED_MESSAGE', 'auth', `SASLInitialResponse: length ${n}`);
  const data = n === -1 ? null : r.bytes(n);
  r.end();
  return { type: 'SASLInitialResponse', mechanism, data };
}
