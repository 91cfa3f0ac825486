// RowDescription ('T'): Byte1('T') Int32 len, Int16 field count, then per field: String name,
// Int32 table OID, Int16 column number, Int32 type OID, Int16 type size, Int32 type modifier,
// Int16 format (0 text, 1 binary).

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const ROW_DESCRIPTION = 0x54; // 'T'

export interface FieldDescription {
  readonly name: string;
  readonly tableOid: number;
  readonly columnNumber: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeModifier: number;
  readonly format: number;
}

export interface RowDescription {
  readonly type: 'RowDescription';
  readonly fields: readonly FieldDescription[];
}

export function decodeRowDescription(body: Buffer): RowDescription {
  const r = new Reader(body, 'RowDescription');
  const n = r.i16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < n; i++) {
    fields.push({
      name: r.cstring(),
      tableOid: r.u32(),
      columnNumber: r.i16(),
      typeOid: r.u32(),
      typeSize: r.i16(),
      typeModifier: r.i32(),
      format: r.i16(),
    });
  }
  r.end();
  return { type: 'RowDescription', fields };
}

export function encodeRowDescription(m: RowDescription): Buffer {
  const w = new Writer(ROW_DESCRIPTION).i16(m.fields.length);
  for (const f of m.fields) {
    w.cstring(f.name)
      .i32(f.tableOid | 0)
      .i16(f.columnNumber)
      .i32(f.typeOid | 0);
    w.i16(f.typeSize).i32(f.typeModifier).i16(f.format);
  }
  return w.finish();
}
