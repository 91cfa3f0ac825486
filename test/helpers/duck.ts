import { DuckDBInstance } from '@duckdb/node-api';

/** Runs queries against a DuckDB file opened read-only (walduck must not be running on it). */
export async function duckQuery(file: string, sql: string): Promise<unknown[][]> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRows();
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
