// ErrorResponse ('E'): Byte1('E') Int32 len, then the error/notice field list (see notice-fields.ts).
// After it, the server sends ReadyForQuery (outside startup) or closes the connection (during startup).

import { decodeNoticeFields, encodeNoticeFields, type NoticeFields } from './notice-fields.js';

export const ERROR_RESPONSE = 0x45; // 'E'

export interface ErrorResponse {
  readonly type: 'ErrorResponse';
  readonly fields: NoticeFields;
}

export function decodeErrorResponse(body: Buffer): ErrorResponse {
  return { type: 'ErrorResponse', fields: decodeNoticeFields(body, 'ErrorResponse') };
}

export function encodeErrorResponse(m: ErrorResponse): Buffer {
  return encodeNoticeFields(ERROR_RESPONSE, m.fields);
}
