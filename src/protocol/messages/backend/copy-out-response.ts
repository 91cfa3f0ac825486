// CopyOutResponse ('H'): Byte1('H') Int32 len, Int8 overall format (0 text, 1 binary), Int16 column
// count, Int16 format per column. The server answers `COPY … TO STDOUT` with it; CopyData messages
// (one per row in practice) follow, then CopyDone, CommandComplete ("COPY n") and ReadyForQuery.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const COPY_OUT_RESPONSE = 0x48; // 'H'

export interface CopyOutResponse {
  readonly type: 'CopyOutResponse';
  readonly format: number;
  readonly columnFormats: readonly number[];
}

export function decodeCopyOutResponse(body: Buffer): CopyOutResponse {
  const r = new Reader(body, 'CopyOutResponse');
  const format = r.u8();
  const n = r.i16();
  const columnFormats: number[] = [];
  for (let i = 0; i < n; i++) columnFormats.push(r.i16());
  r.end();
  return { type: 'CopyOutResponse', format, columnFormats };
}

export function encodeCopyOutResponse(m: CopyOutResponse): Buffer {
  const w = new Writer(COPY_OUT_RESPONSE).u8(m.format).i16(m.columnFormats.length);
  for (const f of m.columnFormats) w.i16(f);
  return w.finish();
}
