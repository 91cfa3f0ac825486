// How much of DuckDB's buffer pool the open transaction's appended rows need at once.
//
// DuckDB appends and commits a transaction's rows one vector (2048 rows) at a time, and holds a
// vector's strings in its buffer pool together. Large values make one vector larger than
// --duckdb-memory-limit: 2500 rows of 80 kB in one source transaction is 164 MB a vector, and the
// COMMIT failed at the default 128MB ("failed to pin block"), the same on every restart; 2100 rows of
// 24 kB under a 32MB limit failed while appending. Measured in DuckDB alone: the COMMIT succeeds with
// the vector's bytes plus 16 MB, and fails with plus 8 MB.
//
// A row's share is estimated from the characters it staged (TableStage.chars). A UTF-16 code unit is
// at most 3 UTF-8 bytes, so a short row counts 3 bytes a character (an upper bound that costs a small
// row nothing); a long row, the only kind that can fill a vector, is measured exactly. The largest
// VECTOR_ROWS rows of each table are kept whatever their order: their sum bounds every vector of it,
// however DuckDB's appends ordered the rows.

import { Buffer } from 'node:buffer';
import type { RowImage, Value } from '../wal2json/change.js';

/** DuckDB's vector size: the rows a COMMIT holds at once. */
export const VECTOR_ROWS = 2048;
/** Room in the pool beside the vector (the table's own blocks, the index): the measured 16 MB. */
export const COMMIT_SLACK = 16 * 1024 * 1024;
/** Staged characters above which a row's bytes are measured rather than bounded. */
const MEASURED = 4096;

/** A table's largest VECTOR_ROWS row sizes (a min-heap) and their sum. */
export class LargestRows {
  private readonly heap = new Float64Array(VECTOR_ROWS);
  private size = 0;
  sum = 0;

  add(bytes: number): void {
    const h = this.heap;
    if (this.size < VECTOR_ROWS) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((h[parent] ?? 0) <= bytes) break;
        h[i] = h[parent] ?? 0;
        i = parent;
      }
      h[i] = bytes;
      this.sum += bytes;
      return;
    }
    const least = h[0] ?? 0;
    if (bytes <= least) return;
    this.sum += bytes - least;
    // Sift the new value down from the root, in the least one's place.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= VECTOR_ROWS) break;
      const r = l + 1;
      const c = r < VECTOR_ROWS && (h[r] ?? 0) < (h[l] ?? 0) ? r : l;
      if ((h[c] ?? 0) >= bytes) break;
      h[i] = h[c] ?? 0;
      i = c;
    }
    h[i] = bytes;
  }

  /** The sizes kept (at most VECTOR_ROWS, in no order). */
  sizes(): Float64Array {
    return this.heap.subarray(0, this.size);
  }
}

export class CommitWindow {
  private readonly tables = new Map<string, LargestRows>();
  /**
   * About how many bytes the open transaction appended, all tables together: what its COMMIT would
   * write to DuckDB's WAL (commit-room.ts). A character counts one byte here, a guess rather than a
   * bound, since nothing fails when it is off.
   */
  total = 0;

  /** A row appended to `table` (an INSERT, or the new row of an UPDATE) that staged `chars`. */
  note(table: string, chars: number, row: RowImage): void {
    if (chars > MEASURED) {
      const bytes = bytesOf(row.values);
      this.total += bytes;
      this.of(table).add(bytes);
      return;
    }
    this.total += chars;
    this.of(table).add(chars * 3);
  }

  /** Row `i` of column arrays (the initial snapshot's COPY text rows). */
  noteColumns(table: string, columns: readonly (readonly Value[])[], i: number): void {
    let chars = 0;
    for (const c of columns) chars += 24 + (c[i]?.length ?? 0);
    if (chars <= MEASURED) {
      this.total += chars;
      this.of(table).add(chars * 3);
      return;
    }
    let bytes = 0;
    for (const c of columns) {
      const v = c[i] ?? null;
      bytes += 16 + (v === null ? 0 : Buffer.byteLength(v, 'utf8'));
    }
    this.total += bytes;
    this.of(table).add(bytes);
  }

  /**
   * A snapshot segment of `bytes`, whose largest rows have these sizes in bytes (measured as they
   * were spooled).
   */
  noteSegment(table: string, bytes: number, sizes: ArrayLike<number>): void {
    this.total += bytes;
    const t = this.of(table);
    for (let i = 0; i < sizes.length; i++) t.add(sizes[i] ?? 0);
  }

  private of(table: string): LargestRows {
    let t = this.tables.get(table);
    if (!t) {
      t = new LargestRows();
      this.tables.set(table, t);
    }
    return t;
  }

  /** The table whose one vector may hold the most bytes at the COMMIT, and that bound. */
  largest(): { table: string; bytes: number } | undefined {
    let best: { table: string; bytes: number } | undefined;
    for (const [table, t] of this.tables) if (!best || t.sum > best.bytes) best = { table, bytes: t.sum };
    return best;
  }

  clear(): void {
    this.tables.clear();
    this.total = 0;
  }
}

/** A row's values as DuckDB holds them: UTF-8 bytes, and a string header for each. */
function bytesOf(values: readonly Value[]): number {
  let n = 0;
  for (const v of values) n += 16 + (v === null ? 0 : Buffer.byteLength(v, 'utf8'));
  return n;
}

/** DuckDB's memory_limit as current_setting prints it ("122.0 MiB", "1.8 GiB") in bytes. */
export function settingBytes(text: string): number | undefined {
  const m = /^([\d.]+)\s*(bytes|[KMGT]i?B)$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').toUpperCase();
  const power = 'BKMGT'.indexOf(unit[0] === 'B' ? 'B' : (unit[0] ?? 'B'));
  const base = unit.includes('I') ? 1024 : 1000;
  return Number(m[1]) * base ** Math.max(0, power);
}
