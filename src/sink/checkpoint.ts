// The exactly-once record: one row per slot in walduck.state, holding the end LSN of the last source
// transaction applied. It is written in the same DuckDB transaction as the rows it covers, so after
// any crash the file says exactly where to resume: what is in the tables is what the LSN says.

import type { DuckDBConnection } from '@duckdb/node-api';
import { formatLsn, type Lsn, parseLsn } from '../protocol/lsn.js';
import { DuckFileError } from './errors.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { STATE_SCHEMA } from './target.js';

/** walduck.state inside the attached database `catalog` (never a bare name: see target.ts). */
const stateTable = (catalog: string) =>
  `${quoteIdent(catalog)}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent('state')}`;
/**
 * A row here says: this file began an initial snapshot into a slot it was creating and has not
 * finished it. It is committed before the slot is created and deleted in the transaction that commits
 * the copy, so after a crash it names the slot as this file's own, safe to drop and create again.
 */
const pendingTable = (catalog: string) =>
  `${quoteIdent(catalog)}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent('snapshot_pending')}`;

export interface StateRow {
  readonly slot: string;
  readonly lsn: Lsn;
  readonly systemId: string | null;
  readonly database: string | null;
}

export async function ensureStateTable(conn: DuckDBConnection, catalog: string): Promise<void> {
  const STATE = stateTable(catalog);
  const PENDING = pendingTable(catalog);
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(catalog)}.${quoteIdent(STATE_SCHEMA)}`);
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${STATE} (
       slot VARCHAR NOT NULL,
       lsn VARCHAR NOT NULL,
       lsn_bytes UBIGINT NOT NULL,
       system_id VARCHAR,
       database VARCHAR,
       tables VARCHAR,
       updated_at TIMESTAMPTZ NOT NULL)`,
  );
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${PENDING} (slot VARCHAR NOT NULL, system_id VARCHAR, started_at TIMESTAMPTZ NOT NULL)`,
  );
}

export async function readSnapshotPending(
  conn: DuckDBConnection,
  catalog: string,
  slot: string,
): Promise<{ systemId: string | null } | undefined> {
  const r = await conn.runAndReadAll(
    `SELECT system_id FROM ${pendingTable(catalog)} WHERE slot = ${quoteLiteral(slot)}`,
  );
  const row = r.getRows()[0];
  return row ? { systemId: row[0] === null ? null : String(row[0]) } : undefined;
}

export async function writeSnapshotPending(
  conn: DuckDBConnection,
  catalog: string,
  slot: string,
  systemId: string | undefined,
): Promise<void> {
  await clearSnapshotPending(conn, catalog, slot);
  await conn.run(
    `INSERT INTO ${pendingTable(catalog)} VALUES (${quoteLiteral(slot)}, ${systemId === undefined ? 'NULL' : quoteLiteral(systemId)}, now())`,
  );
}

export async function clearSnapshotPending(
  conn: DuckDBConnection,
  catalog: string,
  slot: string,
): Promise<void> {
  await conn.run(`DELETE FROM ${pendingTable(catalog)} WHERE slot = ${quoteLiteral(slot)}`);
}

/** Each connection's catalog, asked once: walduck never switches a connection's database (no USE). */
const catalogs = new WeakMap<DuckDBConnection, string>();

/**
 * The attached database's own name (DuckDB names it after the file): what every reference is
 * qualified with. Asked of DuckDB once per connection: the preflight's modules each needed it, ~15
 * round trips through the thread pool at start-up.
 */
export async function attachedCatalog(conn: DuckDBConnection): Promise<string> {
  let name = catalogs.get(conn);
  if (name === undefined) {
    name = String((await conn.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0]);
    catalogs.set(conn, name);
  }
  return name;
}

/** Whether the file has walduck's state table at all (a file walduck never wrote has not). */
export async function stateTableExists(conn: DuckDBConnection): Promise<boolean> {
  const r = await conn.runAndReadAll(
    `SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = ${quoteLiteral(STATE_SCHEMA)} AND table_name = 'state'`,
  );
  return Number(r.getRows()[0]?.[0] ?? 0) > 0;
}

export async function readState(
  conn: DuckDBConnection,
  catalog: string,
  slot: string,
): Promise<StateRow | undefined> {
  const r = await conn.runAndReadAll(
    `SELECT lsn, system_id, database FROM ${stateTable(catalog)} WHERE slot = ${quoteLiteral(slot)}`,
  );
  const row = r.getRows()[0];
  if (!row) return undefined;
  const lsn = parseLsn(String(row[0]));
  if (lsn === undefined)
    throw new DuckFileError(
      'WALDUCK_DUCKDB_STATE',
      `walduck.state holds an unreadable LSN ${String(row[0])} for slot ${slot}: the file was edited by hand or is damaged`,
    );
  return {
    slot,
    lsn,
    systemId: row[1] === null ? null : String(row[1]),
    database: row[2] === null ? null : String(row[2]),
  };
}

/** Records `lsn` for the slot; call inside the transaction that applied the rows up to it. */
export async function writeState(
  conn: DuckDBConnection,
  catalog: string,
  slot: string,
  lsn: Lsn,
  meta: { systemId?: string; database?: string; tables?: string } = {},
): Promise<void> {
  const STATE = stateTable(catalog);
  const text = quoteLiteral(formatLsn(lsn));
  const changed = await conn.run(
    `UPDATE ${STATE} SET lsn = ${text}, lsn_bytes = ${lsn}, updated_at = now() WHERE slot = ${quoteLiteral(slot)}`,
  );
  if (changed.rowsChanged > 0) return;
  const lit = (v: string | undefined) => (v === undefined ? 'NULL' : quoteLiteral(v));
  await conn.run(
    `INSERT INTO ${STATE} VALUES (${quoteLiteral(slot)}, ${text}, ${lsn}, ${lit(meta.systemId)}, ${lit(meta.database)}, ${lit(meta.tables)}, now())`,
  );
}
