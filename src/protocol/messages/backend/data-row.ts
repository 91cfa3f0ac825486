// DataRow ('D'): Byte1('D') Int32 len, Int16 column count, then per column: Int32 length (-1 = NULL)
// and that many bytes. Values are views into the frame; simple query results are text.

import { ProtocolError } from '../../errors.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const DATA_ROW = 0x44; // 'D'

export interface DataRow {
  readonly type: 'DataRow';
  readonly values: readonly (Buffer | null)[];
}

export function decodeDataRow(body: Buffer): DataRow {
  const r = new Reader(body, 'DataRow');
  const n = r.i16();
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.i32();
    if (len < -1)
      throw new ProtocolError('WALDUCK_MALFORMED_MESSAGE', 'command', `DataRow: column length ${len}`);
    values.push(len === -1 ? null : r.bytes(len));
  }
  r.end();
  return { type: 'DataRow', values };
}

export function encodeDataRow(m: DataRow): Buffer {
  const w = new Writer(DATA_ROW).i16(m.values.length);
  for (const v of m.values) {
    if (v === null) w.i32(-1);
    else w.i32(v.length).bytes(v);
  }
  return w.finish();
}
