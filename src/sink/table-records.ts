// walduck.tables as stored: one row per slot and source table, with where it lands in DuckDB, its
// state, its leaf partitions, its oid and the names it had. TableSet (table-set.ts) decides what the
// set is at each start and while streaming; this is how it is read and written, with the state row's
// summary (walduck.state.tables: the mode, the followed names, pg_class's highest oid) and the request
// `walduck resync` leaves for the next replicate.

import type { DuckDBConnection } from '@duckdb/node-api';
import { WalduckError } from '../protocol/errors.js';
import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { attachedCatalog } from './checkpoint.js';
import { requestCopy } from './copy-state.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { STATE_SCHEMA } from './target.js';

export class TableSetError extends WalduckError {
  override readonly name = 'TableSetError';
  readonly phase = 'preflight';
  constructor(
    readonly code:
      | 'WALDUCK_PARTITION_DETACHED'
      | 'WALDUCK_PARTITION_ATTACHED'
      | 'WALDUCK_TABLE_ADDED'
      | 'WALDUCK_TABLE_COLLISION'
      | 'WALDUCK_TABLE_REPLACED'
      | 'WALDUCK_RESYNC_TABLE',
    message: string,
  ) {
    super(message);
  }
}

/** walduck.<name> qualified with the attached database (a file named walduck.duckdb would make it ambiguous). */
async function stateRef(conn: DuckDBConnection, name: string): Promise<string> {
  return `${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent(name)}`;
}

export type TableState = 'streaming' | 'copying' | 'stopped' | 'skipped';

export interface TableRecord {
  readonly sourceSchema: string;
  readonly sourceTable: string;
  readonly targetSchema: string | null;
  readonly targetTable: string | null;
  readonly state: TableState;
  /** Leaf partitions ("schema.table", as JSON in the file) routed to this table. */
  readonly leaves: readonly string[];
  /** When it entered this state (stopped: the last LSN applied to it). */
  readonly lsn: string | null;
  readonly note: string | null;
  /** pg_class oid of the source table (a rename keeps it); null in a file from an older walduck until its next start. */
  readonly oid: string | null;
  /** Names it had before, oldest first, with the LSN each rename was applied at (RENAME TABLE, SET SCHEMA). */
  readonly renamedFrom: readonly { readonly name: string; readonly lsn: string }[];
}

/** The source table a record names. */
export const recordRef = (r: TableRecord): TableRef => ({ schema: r.sourceSchema, table: r.sourceTable });
/** A record's key as refKey gives it: "a.b"."c" and "a"."b.c" are two tables. */
export const recordKey = (r: TableRecord): string => refKey(recordRef(r));
export async function ensureTableSet(conn: DuckDBConnection): Promise<void> {
  const tables = await stateRef(conn, 'tables');
  await conn.run(
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}`,
  );
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${tables} (
       slot VARCHAR NOT NULL,
       source_schema VARCHAR NOT NULL,
       source_table VARCHAR NOT NULL,
       target_schema VARCHAR,
       target_table VARCHAR,
       state VARCHAR NOT NULL,
       partitions VARCHAR,
       lsn VARCHAR,
       note VARCHAR,
       updated_at TIMESTAMPTZ NOT NULL)`,
  );
  // Added after the first files were written: an older file learns them here (empty until its next write).
  await conn.run(`ALTER TABLE ${tables} ADD COLUMN IF NOT EXISTS oid VARCHAR`);
  await conn.run(`ALTER TABLE ${tables} ADD COLUMN IF NOT EXISTS renamed_from VARCHAR`);
}

/** The recorded set, or undefined when this file has none for the slot (new, or from an older walduck). */
export async function readTableSet(conn: DuckDBConnection, slot: string): Promise<TableRecord[] | undefined> {
  const tables = await stateRef(conn, 'tables');
  const r = await conn.runAndReadAll(
    `SELECT source_schema, source_table, target_schema, target_table, state, partitions, lsn, note, oid, renamed_from
       FROM ${tables} WHERE slot = ${quoteLiteral(slot)} ORDER BY source_schema, source_table`,
  );
  const rows = r.getRows();
  if (rows.length === 0) return undefined;
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return rows.map((row) => ({
    sourceSchema: String(row[0]),
    sourceTable: String(row[1]),
    targetSchema: str(row[2]),
    targetTable: str(row[3]),
    state: String(row[4]) as TableState,
    leaves: row[5] === null ? [] : (JSON.parse(String(row[5])) as string[]),
    lsn: str(row[6]),
    note: str(row[7]),
    oid: str(row[8]),
    renamedFrom: row[9] === null ? [] : (JSON.parse(String(row[9])) as { name: string; lsn: string }[]),
  }));
}

/** Replaces the slot's recorded set; call inside the transaction whose rows it describes. */
export async function writeTableSet(
  conn: DuckDBConnection,
  slot: string,
  records: readonly TableRecord[],
  mode: string,
  maxOid: bigint,
): Promise<void> {
  const lit = (v: string | null) => (v === null ? 'NULL' : quoteLiteral(v));
  const tables = await stateRef(conn, 'tables');
  await conn.run(`DELETE FROM ${tables} WHERE slot = ${quoteLiteral(slot)}`);
  for (const t of records) {
    await conn.run(
      `INSERT INTO ${tables} (slot, source_schema, source_table, target_schema, target_table, state, partitions, lsn, note, updated_at, oid, renamed_from)
         VALUES (${quoteLiteral(slot)}, ${lit(t.sourceSchema)}, ${lit(t.sourceTable)}, ${lit(t.targetSchema)}, ${lit(t.targetTable)}, ${lit(t.state)}, ${lit(t.leaves.length > 0 ? JSON.stringify(t.leaves) : null)}, ${lit(t.lsn)}, ${lit(t.note)}, now(), ${lit(t.oid)}, ${lit(t.renamedFrom.length > 0 ? JSON.stringify(t.renamedFrom) : null)})`,
    );
  }
  await writeRecorded(conn, slot, records, mode, maxOid);
}

/** walduck.state.tables: the mode and the followed names, for a reader of the state row alone. */
export async function writeRecorded(
  conn: DuckDBConnection,
  slot: string,
  records: readonly TableRecord[],
  mode: string,
  maxOid: bigint,
): Promise<void> {
  const followed = records
    .filter((t) => t.state === 'streaming' || t.state === 'copying')
    .map((t) => `${t.sourceSchema}.${t.sourceTable}`);
  await conn.run(
    `UPDATE ${await stateRef(conn, 'state')} SET tables = ${quoteLiteral(JSON.stringify({ mode, tables: followed, maxOid: String(maxOid) }))} WHERE slot = ${quoteLiteral(slot)}`,
  );
}

export type Mode = 'all' | 'tables';

/** Whether two table sets record the same (the write time aside), in any order. */
export function sameRecords(a: readonly TableRecord[], b: readonly TableRecord[]): boolean {
  if (a.length !== b.length) return false;
  const text = (r: TableRecord) =>
    JSON.stringify([
      r.sourceSchema,
      r.sourceTable,
      r.targetSchema,
      r.targetTable,
      r.state,
      r.leaves,
      r.lsn,
      r.note,
      r.oid,
      r.renamedFrom.map((f) => [f.name, f.lsn]),
    ]);
  const mine = new Set(a.map(text));
  return b.every((r) => mine.has(text(r)));
}

/** What the state row's `tables` JSON recorded: the mode, and pg_class's highest oid at that start. */
export async function readRecorded(
  duck: DuckDBConnection,
  slot: string,
): Promise<{ mode: Mode | undefined; maxOid: bigint | undefined } | undefined> {
  const r = await duck.runAndReadAll(`SELECT tables FROM ${await stateRef(duck, 'state')} WHERE slot = $1`, [
    slot,
  ]);
  const v = r.getRows()[0]?.[0];
  if (typeof v !== 'string') return undefined;
  try {
    const j = JSON.parse(v) as { mode?: unknown; maxOid?: unknown };
    return {
      mode: j.mode === 'all' || j.mode === 'tables' ? j.mode : undefined,
      maxOid: typeof j.maxOid === 'string' && /^\d+$/.test(j.maxOid) ? BigInt(j.maxOid) : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * `walduck resync`: records that `t` is to be copied again online, by the next `walduck replicate`
 * (which holds the file while it runs). Returns the slot. The table keeps its rows until the copy's
 * first chunk replaces them.
 */
export async function requestResync(
  duck: DuckDBConnection,
  t: TableRef,
  slot?: string,
  /** Runs once the table is known to be followed, before anything is written; throws to refuse. */
  check?: () => Promise<void>,
): Promise<string> {
  await ensureTableSet(duck);
  const tables = await stateRef(duck, 'tables');
  const r = await duck.runAndReadAll(
    `SELECT slot, state FROM ${tables} WHERE source_schema = ${quoteLiteral(t.schema)} AND source_table = ${quoteLiteral(t.table)}${slot === undefined ? '' : ` AND slot = ${quoteLiteral(slot)}`}`,
  );
  const rows = r.getRows();
  const name = shownName(t);
  const found = rows[0];
  if (!found)
    throw new TableSetError(
      'WALDUCK_RESYNC_TABLE',
      `${name} is not in the table set${slot === undefined ? '' : ` of slot ${slot}`} of this replica: walduck status lists the tables it follows`,
    );
  if (rows.length > 1)
    throw new TableSetError(
      'WALDUCK_RESYNC_TABLE',
      `${name} is followed through several slots (${rows.map((x) => String(x[0])).join(', ')}): name one with --slot`,
    );
  const theSlot = String(found[0]);
  const state = String(found[1]);
  if (state !== 'streaming' && state !== 'copying')
    throw new TableSetError(
      'WALDUCK_RESYNC_TABLE',
      `${name} is ${state} in this replica, not followed: name it in --tables of walduck replicate, which copies it online`,
    );
  await check?.();
  await duck.run('BEGIN TRANSACTION');
  try {
    await requestCopy(duck, theSlot, t, 'resync');
    await duck.run(
      `UPDATE ${tables} SET state = 'copying', updated_at = now() WHERE slot = ${quoteLiteral(theSlot)} AND source_schema = ${quoteLiteral(t.schema)} AND source_table = ${quoteLiteral(t.table)}`,
    );
    await duck.run('COMMIT');
  } catch (err) {
    await duck.run('ROLLBACK').catch(() => {});
    throw err;
  }
  return theSlot;
}
