// SSLRequest (no tag): Int32 len(8), Int32 80877103 (1234 << 16 | 5679). The server answers with ONE
// unframed byte: 'S' (start the TLS handshake now) or 'N' (no TLS here).

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const SSL_REQUEST_CODE = 80877103;
export const SSL_ACCEPTED = 0x53; // 'S'
export const SSL_REFUSED = 0x4e; // 'N'

export interface SSLRequest {
  readonly type: 'SSLRequest';
}

export function encodeSSLRequest(_m?: SSLRequest): Buffer {
  return new Writer(undefined, 8).i32(SSL_REQUEST_CODE).finish();
}

/** True if an untagged packet's body is an SSLRequest (the fake server in tests tells them apart so). */
export function isSSLRequest(body: Buffer): boolean {
  return body.length === 4 && body.readInt32BE(0) === SSL_REQUEST_CODE;
}

export function decodeSSLRequest(body: Buffer): SSLRequest {
  const r = new Reader(body, 'SSLRequest');
  r.i32();
  r.end();
  return { type: 'SSLRequest' };
}
