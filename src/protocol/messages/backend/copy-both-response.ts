// CopyBothResponse ('W'): Byte1('W') Int32 len, Int8 overall format, Int16 column count, Int16 format
// per column. START_REPLICATION answers with it: from here on both sides send CopyData.

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const COPY_BOTH_RESPONSE = 0x57; // 'W'

export interface CopyBothResponse {
  readonly type: 'CopyBothResponse';
  readonly format: number;
  readonly columnFormats: readonly number[];
}

export function decodeCopyBothResponse(body: Buffer): CopyBothResponse {
  const r = new Reader(body, 'CopyBothResponse');
  const format = r.u8();
  const n = r.i16();
  const columnFormats: number[] = [];
  for (let i = 0; i < n; i++) columnFormats.push(r.i16());
  r.end();
  return { type: 'CopyBothResponse', format, columnFormats };
}

export function encodeCopyBothResponse(m: CopyBothResponse): Buffer {
  const w = new Writer(COPY_BOTH_RESPONSE).u8(m.format).i16(m.columnFormats.length);
  for (const f of m.columnFormats) w.i16(f);
  return w.finish();
}
