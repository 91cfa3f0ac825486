// Authentication* ('R'): Byte1('R') Int32 len, Int32 code, then per code: MD5 Byte4 salt;
// SASL a list of mechanism String, ending with an empty one; SASLContinue/SASLFinal Byte[n] data.
// https://www.postgresql.org/docs/current/protocol-message-formats.html

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const AUTHENTICATION = 0x52; // 'R'

const OK = 0;
const CLEARTEXT = 3;
const MD5 = 5;
const SASL = 10;
const SASL_CONTINUE = 11;
const SASL_FINAL = 12;

export type Authentication =
  | { readonly type: 'AuthenticationOk' }
  | { readonly type: 'AuthenticationCleartextPassword' }
  | { readonly type: 'AuthenticationMD5Password'; readonly salt: Buffer }
  | { readonly type: 'AuthenticationSASL'; readonly mechanisms: readonly string[] }
  | { readonly type: 'AuthenticationSASLContinue'; readonly data: Buffer }
  | { readonly type: 'AuthenticationSASLFinal'; readonly data: Buffer }
  /** Kerberos (2), SCM (6), GSS (7/8), SSPI (9): methods this client does not speak. */
  | { readonly type: 'AuthenticationUnsupported'; readonly code: number; readonly data: Buffer };

export function decodeAuthentication(body: Buffer): Authentication {
  const r = new Reader(body, 'Authentication');
  const code = r.i32();
  let m: Authentication;
  switch (code) {
    case OK:
      m = { type: 'AuthenticationOk' };
      break;
    case CLEARTEXT:
      m = { type: 'AuthenticationCleartextPassword' };
      break;
    case MD5:
      m = { type: 'AuthenticationMD5Password', salt: r.bytes(4) };
      break;
    case SASL: {
      const mechanisms: string[] = [];
      for (let name = r.cstring(); name !== ''; name = r.cstring()) mechanisms.push(name);
      m = { type: 'AuthenticationSASL', mechanisms };
      break;
    }
    case SASL_CONTINUE:
      m = { type: 'AuthenticationSASLContinue', data: r.rest() };
      break;
    case SASL_FINAL:
      m = { type: 'AuthenticationSASLFinal', data: r.rest() };
      break;
    default:
      m = { type: 'AuthenticationUnsupported', code, data: r.rest() };
  }
  r.end();
  return m;
}

export function encodeAuthentication(m: Authentication): Buffer {
  const w = new Writer(AUTHENTICATION);
  switch (m.type) {
    case 'AuthenticationOk':
      return w.i32(OK).finish();
    case 'AuthenticationCleartextPassword':
      return w.i32(CLEARTEXT).finish();
    case 'AuthenticationMD5Password':
      return w.i32(MD5).bytes(m.salt).finish();
    case 'AuthenticationSASL':
      w.i32(SASL);
      for (const name of m.mechanisms) w.cstring(name);
      return w.u8(0).finish();
    case 'AuthenticationSASLContinue':
      return w.i32(SASL_CONTINUE).bytes(m.data).finish();
    case 'AuthenticationSASLFinal':
      return w.i32(SASL_FINAL).bytes(m.data).finish();
    case 'AuthenticationUnsupported':
      return w.i32(m.code).bytes(m.data).finish();
    default:
      return m satisfies never;
  }
}
