// SASLResponse ('p'): Byte1('p') Int32 len, Byte[n] mechanism data (SCRAM's client-final-message).

import { Writer } from '../../writer.js';
import { PASSWORD_MESSAGE } from './password-message.js';

export interface SASLResponse {
  readonly type: 'SASLResponse';
  readonly data: Buffer;
}

export function encodeSASLResponse(m: SASLResponse): Buffer {
  return new Writer(PASSWORD_MESSAGE, m.data.length + 8).bytes(m.data).finish();
}

export function decodeSASLResponse(body: Buffer): SASLResponse {
  return { type: 'SASLResponse', data: body };
}
