// Reading a walduck DuckDB file from the command line (slot status, demo): read-only, and closed
// again before the command returns, so a replicate started next can open it.
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Lsn } from '../protocol/lsn.js';
import { parseLsn } from '../protocol/lsn.js';
import { quoteIdent, quoteLiteral } from '../sink/sql.js';

export class DuckFileError extends Error {
  override readonly name = 'DuckFileError';
  readonly phase = 'duckdb';
}

export async function withDuckDb<T>(
  file: string,
  readOnly: boolean,
  use: (query: (sql: string) => Promise<{ columns: string[]; rows: unknown[][] }>) => Promise<T>,
): Promise<T> {
  let instance: DuckDBInstance;
  try {
    // Loaded when used: DuckDB's native module is most of the start-up of commands that never need it.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    instance = await DuckDBInstance.create(file, readOnly ? { access_mode: 'READ_ONLY' } : {});
  } catch (err) {
    const text = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    const why = /lock/i.test(text) ? 'it is in use by another process (a running replicate?)' : text;
    throw new DuckFileError(`cannot open DuckDB file ${file}: ${why}`, { cause: err });
  }
  const conn = await instance.connect();
  try {
    return await use(async (sql) => {
      const r = await conn.runAndReadAll(sql);
      return { columns: r.columnNames(), rows: r.getRows() as unknown[][] };
    });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** The LSN walduck.state records for `slot` (what DuckDB holds up to), or undefined when none. */
export async function storedLsn(file: string, slot: string): Promise<Lsn | undefined> {
  return withDuckDb(file, true, async (query) => {
    const has = await query(
      "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'walduck' AND table_name = 'state'",
    );
    if (Number(has.rows[0]?.[0] ?? 0) === 0) {
      throw new DuckFileError(`${file} has no walduck.state table: it is not a walduck replica`);
    }
    // Qualified with the attached database: a file named walduck.duckdb makes a bare walduck.state ambiguous.
    const catalog = String((await query('SELECT current_database()')).rows[0]?.[0]);
    const r = await query(
      `SELECT lsn FROM ${quoteIdent(catalog)}.walduck.state WHERE slot = ${quoteLiteral(slot)}`,
    );
    const text = r.rows[0]?.[0];
    if (text === undefined || text === null) return undefined;
    const lsn = parseLsn(String(text));
    if (lsn === undefined)
      throw new DuckFileError(`${file}: walduck.state holds an unreadable LSN ${String(text)}`);
    return lsn;
  });
}
