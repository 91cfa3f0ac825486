// After DuckDB refused a batch (its transaction is then aborted, so nothing more can be asked there),
// find the first value that does not convert, in a scratch in-memory DuckDB: the error can then name
// the column and the row instead of passing DuckDB's message on alone. Runs only on failure.

import type { Value } from '../wal2json/change.js';
import { DuckDBDataChunk, DuckDBInstance, VARCHAR } from './duckdb-api.js';
import type { ColumnMapping } from './type-map.js';

export interface BadValue {
  /** Target column position. */
  readonly column: number;
  /** Row index within the given arrays (or the CSV file's line, from 0). */
  readonly row: number;
}

const CHUNK = 2048;

/** The first (column, row) of staged text whose conversion fails. */
export async function findBadStaged(
  mappings: readonly ColumnMapping[],
  columns: readonly (readonly Value[])[],
  count: number,
): Promise<BadValue | undefined> {
  if (count === 0 || columns.length === 0) return undefined;
  return scratch(async (conn) => {
    const cols = columns.map((_, i) => `c${i} VARCHAR`).join(', ');
    await conn.run(`CREATE TABLE d (${cols})`);
    const appender = await conn.createAppender('d');
    for (let start = 0; start < count; start += CHUNK) {
      const end = Math.min(count, start + CHUNK);
      const chunk = DuckDBDataChunk.create(
        columns.map(() => VARCHAR),
        end - start,
      );
      for (let i = 0; i < columns.length; i++) chunk.setColumnValues(i, (columns[i] ?? []).slice(start, end));
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
    appender.closeSync();
    return firstBad(
      conn,
      mappings,
      'd',
      (i) => `c${i}`,
      'rowid',
      (m) => m.convert,
    );
  });
}

/** The first (column, line) of a CSV segment whose conversion from PostgreSQL's text fails. */
export async function findBadCsv(
  mappings: readonly ColumnMapping[],
  source: string,
): Promise<BadValue | undefined> {
  return scratch(async (conn) => {
    await conn.run(`CREATE TABLE d AS SELECT row_number() OVER () - 1 AS line, * FROM ${source}`);
    return firstBad(
      conn,
      mappings,
      'd',
      (i) => `_c${i}`,
      'line',
      (m) => m.csv ?? m.convert,
    );
  });
}

type Conn = Awaited<ReturnType<DuckDBInstance['connect']>>;

async function scratch<T>(use: (conn: Conn) => Promise<T>): Promise<T | undefined> {
  try {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      return await use(conn);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  } catch {
    // The diagnosis is a courtesy: the original error is reported either way.
    return undefined;
  }
}

async function firstBad(
  conn: Conn,
  mappings: readonly ColumnMapping[],
  table: string,
  ref: (i: number) => string,
  order: string,
  sql: (m: ColumnMapping) => (ref: string) => string,
): Promise<BadValue | undefined> {
  let best: BadValue | undefined;
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i];
    if (!m) continue;
    const r = await conn.runAndReadAll(
      `SELECT min(${order}) FROM ${table} WHERE ${ref(i)} IS NOT NULL AND TRY(${sql(m)(ref(i))}) IS NULL`,
    );
    const row = r.getRows()[0]?.[0];
    if (row === null || row === undefined) continue;
    const n = Number(row);
    if (!best || n < best.row) best = { column: i, row: n };
  }
  return best;
}
