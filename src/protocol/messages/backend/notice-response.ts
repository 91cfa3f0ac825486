// NoticeResponse ('N'): Byte1('N') Int32 len, then the error/notice field list. May arrive at any
// time, also mid-stream: wal2json reports skipped changes (e.g. a table without a primary key) this way.

import { decodeNoticeFields, encodeNoticeFields, type NoticeFields } from './notice-fields.js';

export const NOTICE_RESPONSE = 0x4e; // 'N'

export interface NoticeResponse {
  readonly type: 'NoticeResponse';
  readonly fields: NoticeFields;
}

export function decodeNoticeResponse(body: Buffer): NoticeResponse {
  return { type: 'NoticeResponse', fields: decodeNoticeFields(body, 'NoticeResponse') };
}

export function encodeNoticeResponse(m: NoticeResponse): Buffer {
  return encodeNoticeFields(NOTICE_RESPONSE, m.fields);
}
