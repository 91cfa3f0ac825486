// Column arrays appended to a DuckDB table through the Appender in whole data chunks (apply.ts's
// staging tables, or the target itself when every column converts by a plain cast): a staged binary
// column (stage-column.ts) is copied as it is, another column is filled into a typed vector when its
// filler knows every value of the chunk (typed-fill.ts), else goes as VARCHAR for the Appender to cast.
// Apart from apply.ts: this is DuckDB's chunk and vector memory, kept and freed on purpose, where
// apply.ts is the statements and their order.

import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import type { Value } from '../wal2json/change.js';
import { DuckDBDataChunk, VARCHAR } from './duckdb-api.js';
import type { Filler } from './filler.js';
import type { StagedColumn } from './stage.js';
import { TypedColumn } from './stage-column.js';
import { CHUNK_CAPACITY as CHUNK_ROWS, ColumnScratch } from './typed-fill.js';

/** Appends one table's rows (its staging tables and its target), keeping its chunks and scratch. */
export class ChunkAppender {
  private readonly scratch = new Map<number, ColumnScratch>();
  /**
   * The last data chunk appended to each DuckDB table, kept for the next chunk of the same column
   * types: DuckDB keeps a reset chunk's vector buffers, where a new chunk allocates and the first
   * copies into it fault its pages in (~11% of the page faults of a 50-column run).
   */
  private readonly chunks = new Map<string, { types: DuckDBType[]; chunk: DuckDBDataChunk }>();

  constructor(private readonly conn: DuckDBConnection) {}

  /** Appends the given rows (all `n` first rows, or these indexes) of parallel column arrays in whole chunks. */
  async append(
    table: string,
    catalog: string,
    rows: number | readonly number[],
    columns: readonly (readonly Value[] | StagedColumn)[],
    fillers: readonly (Filler | undefined)[],
    schema = 'main',
  ): Promise<void> {
    const total = typeof rows === 'number' ? rows : rows.length;
    if (total === 0) return;
    const appender = await this.conn.createAppender(table, schema, catalog);
    const types: DuckDBType[] = columns.map(() => VARCHAR);
    const filled: boolean[] = columns.map(() => false);
    const values: Value[][] = columns.map(() => []);
    try {
      for (let start = 0; start < total; start += CHUNK_ROWS) {
        const end = Math.min(total, start + CHUNK_ROWS);
        for (let c = 0; c < columns.length; c++) {
          const col = columns[c] ?? [];
          if (col instanceof TypedColumn) {
            // Staged in binary form: copied as it is, unless a value of this chunk is a text the
            // filler does not know (then the chunk's column goes as VARCHAR, its values as text).
            filled[c] = col.allBinary(rows, start, end);
            if (!filled[c]) values[c] = col.textRange(rows, start, end);
            types[c] = filled[c] ? col.filler.type : VARCHAR;
            continue;
          }
          const v = typeof rows === 'number' ? col.slice(start, end) : pick(col, rows, start, end);
          values[c] = v;
          // Typed when every value of this chunk's column is in the plain form its filler knows;
          // else VARCHAR, which the Appender casts exactly as before.
          const f = fillers[c];
          filled[c] = f !== undefined && this.scratchFor(c).fill(f, v);
          types[c] = f && filled[c] ? f.type : VARCHAR;
        }
        const chunk = this.chunkFor(table, types, end - start);
        for (let c = 0; c < columns.length; c++) {
          if (!filled[c]) chunk.setColumnValues(c, values[c] ?? []);
          else {
            const col = columns[c];
            if (col instanceof TypedColumn) col.copyTo(chunk, c, this.scratchFor(c), rows, start, end);
            else this.scratchFor(c).copyTo(chunk, c, fillers[c]?.bytes ?? 8, end - start);
          }
        }
        appender.appendDataChunk(chunk);
        // The appender copied the rows: free the chunk's string heap now, not at a GC that V8, blind
        // to native memory, may not run for hundreds of MB (issue 19).
        chunk.reset();
        // And the JS side's vectors, which hold the values given to setColumnValues (a 20 kB text's
        // string): kept with the chunk until its next use, they were ~20 MB more peak RSS.
        chunk.rowCount = 0;
        // A turn of the event loop between chunks: socket reads go on while a large batch is appended.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      appender.flushSync();
    } catch (err) {
      // A chunk an append failed on may hold this batch's validity bits: never reused.
      this.chunks.delete(table);
      throw err;
    } finally {
      appender.closeSync();
    }
  }

  /** Gives the kept chunks back (native memory outside DuckDB's pool): the table was idle for a flush. */
  release(): void {
    this.chunks.clear();
  }

  /** A chunk of `rows` rows of these types for `table`: the kept one when its types match. */
  private chunkFor(table: string, types: readonly DuckDBType[], rows: number): DuckDBDataChunk {
    const kept = this.chunks.get(table);
    if (kept && kept.types.length === types.length && kept.types.every((t, i) => t === types[i])) {
      // reset() (after the last append) emptied it and freed its strings; DuckDB resets each vector
      // from its cache, validity all valid again, so no NULL of the last chunk stays.
      kept.chunk.rowCount = rows;
      return kept.chunk;
    }
    const chunk = DuckDBDataChunk.create(types, rows);
    this.chunks.set(table, { types: [...types], chunk });
    return chunk;
  }

  private scratchFor(c: number): ColumnScratch {
    let s = this.scratch.get(c);
    if (!s) {
      s = new ColumnScratch();
      this.scratch.set(c, s);
    }
    return s;
  }
}

function pick(col: readonly Value[], rows: readonly number[], start: number, end: number): Value[] {
  const out = new Array<Value>(end - start);
  for (let i = start; i < end; i++) out[i - start] = col[rows[i] ?? 0] ?? null;
  return out;
}
