// A staged column (staged-values.ts holds its values) as the flush writes it into a DuckDB chunk: a
// range of binary values goes into the vector in one copy, picked rows through the column's scratch,
// then the validity bits, then the rows kept as text (a text column's heap bytes, or JS strings)
// assigned one by one. A chunk with a text the filler does not know goes as VARCHAR instead (allBinary,
// textRange). Apart from the staging side: only this side talks to DuckDB's vectors.

import type { DuckDBDataChunk } from '@duckdb/node-api';
import type { Value } from '../wal2json/change.js';
import { bindings } from './duckdb-api.js';
import { HEAP, NULL, StagedValues, TEXT } from './staged-values.js';
import type { ColumnScratch } from './typed-fill.js';

export class TypedColumn extends StagedValues {
  /** Whether every row of these (rows [start, end), or rows[start..end)) is NULL or binary. */
  allBinary(rows: number | readonly number[], start: number, end: number): boolean {
    // A text column's texts go into the vector one by one (heapTo), never as a VARCHAR chunk.
    if (this.textRows === 0 || this.heaped) return true;
    for (let k = start; k < end; k++) {
      const i = typeof rows === 'number' ? k : (rows[k] ?? 0);
      if (this.state[i] === TEXT) return false;
    }
    return true;
  }

  /**
   * Rows [start, end) (or rows[start..end)) into column `c` of `chunk`: a range is copied from here in
   * one call, picked rows through `scratch`. The caller checked allBinary.
   */
  copyTo(
    chunk: DuckDBDataChunk,
    c: number,
    scratch: ColumnScratch,
    rows: number | readonly number[],
    start: number,
    end: number,
  ): void {
    const w = this.width;
    if (typeof rows !== 'number') {
      const src = this.bytes;
      const dst = new Uint8Array(scratch.data);
      // Byte by byte (a value is 1 to 16 bytes): a subarray per picked row was an object per row.
      for (let k = 0; k < end - start; k++) {
        const from = (rows[start + k] ?? 0) * w;
        const to = k * w;
        for (let b = 0; b < w; b++) dst[to + b] = src[from + b] as number;
      }
      this.validityOf(scratch, rows, start, end);
      scratch.copyTo(chunk, c, w, end - start);
      this.heapTo(chunk, c, rows, start, end);
      return;
    }
    this.validityOf(scratch, rows, start, end);
    const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
    bindings.copy_data_to_vector(vector, 0, this.data, start * w, (end - start) * w);
    if (scratch.hasNull) {
      bindings.vector_ensure_validity_writable(vector);
      bindings.copy_data_to_vector_validity(
        vector,
        0,
        scratch.validity.buffer,
        0,
        Math.ceil((end - start) / 64) * 8,
      );
    }
    this.heapTo(chunk, c, rows, start, end);
  }

  /**
   * The HEAP and TEXT rows among these into column `c` of `chunk` (copied as empty strings): their
   * bytes, or their JS strings.
   */
  private heapTo(
    chunk: DuckDBDataChunk,
    c: number,
    rows: number | readonly number[],
    start: number,
    end: number,
  ): void {
    if (this.heapRows === 0 && this.textRows === 0) return;
    const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
    for (let k = start; k < end; k++) {
      const i = typeof rows === 'number' ? k : (rows[k] ?? 0);
      const s = this.state[i];
      if (s === HEAP) bindings.vector_assign_string_element_len(vector, k - start, this.heapBytes(i));
      else if (s === TEXT) {
        const text = this.textAt(i);
        if (text !== null) bindings.vector_assign_string_element(vector, k - start, text);
      }
    }
  }

  /** The validity bits of these rows into `scratch` (hasNull says whether any is NULL). */
  private validityOf(
    scratch: ColumnScratch,
    rows: number | readonly number[],
    start: number,
    end: number,
  ): void {
    const n = end - start;
    let hasNull = false;
    for (let k = 0; k < n; k++) {
      const i = typeof rows === 'number' ? start + k : (rows[start + k] ?? 0);
      if (this.state[i] !== NULL) continue;
      if (!hasNull) {
        hasNull = true;
        scratch.validity.fill(0xff);
      }
      scratch.validity[k >> 3] = (scratch.validity[k >> 3] ?? 0) & ~(1 << (k & 7));
    }
    scratch.hasNull = hasNull;
  }

  /** Rows [start, end) (or rows[start..end)) as text, for a chunk that goes as VARCHAR. */
  textRange(rows: number | readonly number[], start: number, end: number): Value[] {
    const out = new Array<Value>(end - start);
    for (let k = start; k < end; k++)
      out[k - start] = this.textAt(typeof rows === 'number' ? k : (rows[k] ?? 0));
    return out;
  }
}
