// PasswordMessage ('p'): Byte1('p') Int32 len, String password: the cleartext password, or for md5
// "md5" + hex(md5(hex(md5(password + user)) + salt)). The same tag carries the SASL messages.

import { ArgumentError } from '../../errors.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const PASSWORD_MESSAGE = 0x70; // 'p'

export interface PasswordMessage {
  readonly type: 'PasswordMessage';
  readonly password: string;
}

export function encodePasswordMessage(m: PasswordMessage): Buffer {
  // The server would check a prefix of it. Never echoed.
  if (m.password.includes('\0')) throw new ArgumentError('the password contains a NUL character');
  return new Writer(PASSWORD_MESSAGE).cstring(m.password).finish();
}

export function decodePasswordMessage(body: Buffer): PasswordMessage {
  const r = new Reader(body, 'PasswordMessage');
  const m: PasswordMessage = { type: 'PasswordMessage', password: r.cstring() };
  r.end();
  return m;
}
