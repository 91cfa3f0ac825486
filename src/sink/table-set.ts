// The table set is part of the replica: walduck.tables holds, per slot, every source table walduck
// follows or followed, where it lands in DuckDB, its state, and (for a partitioned table) the leaf
// partitions routed to it. It is written in the DuckDB transaction that commits the rows it describes,
// read and compared with the source on every start, and listed by `walduck status`.
//
// States: streaming (followed), stopped (left as it is, no longer followed: removed from --tables or
// dropped at the source), skipped (exists at the source but cannot be replicated; all-tables mode).
// Further per-table columns (a recorded schema, copy progress) belong here too, keyed the same way.

import type { DuckDBConnection } from '@duckdb/node-api';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { STATE_SCHEMA } from './target.js';

export const TABLES = `${quoteIdent(STATE_SCHEMA)}.${quoteIdent('tables')}`;

export type TableState = 'streaming' | 'stopped' | 'skipped';

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
}

export async function ensureTableSet(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(STATE_SCHEMA)}`);
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${TABLES} (
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
}

/** The recorded set, or undefined when this file has none for the slot (new, or from an older walduck). */
export async function readTableSet(conn: DuckDBConnection, slot: string): Promise<TableRecord[] | undefined> {
  const r = await conn.runAndReadAll(
    `SELECT source_schema, source_table, target_schema, target_table, state, partitions, lsn, note
       FROM ${TABLES} WHERE slot = ${quoteLiteral(slot)} ORDER BY source_schema, source_table`,
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
  await conn.run(`DELETE FROM ${TABLES} WHERE slot = ${quoteLiteral(slot)}`);
  for (const t of records) {
    await conn.run(
      `INSERT INTO ${TABLES} VALUES (${quoteLiteral(slot)}, ${lit(t.sourceSchema)}, ${lit(t.sourceTable)}, ${lit(t.targetSchema)}, ${lit(t.targetTable)}, ${lit(t.state)}, ${lit(t.leaves.length > 0 ? JSON.stringify(t.leaves) : null)}, ${lit(t.lsn)}, ${lit(t.note)}, now())`,
    );
  }
  // walduck.state.tables: the mode and the followed names, for a reader of the state row alone.
  const followed = records
    .filter((t) => t.state === 'streaming')
    .map((t) => `${t.sourceSchema}.${t.sourceTable}`);
  await conn.run(
    `UPDATE ${quoteIdent(STATE_SCHEMA)}.${quoteIdent('state')} SET tables = ${quoteLiteral(JSON.stringify({ mode, tables: followed, maxOid: String(maxOid) }))} WHERE slot = ${quoteLiteral(slot)}`,
  );
}

export const lsnText = (lsn: Lsn): string => formatLsn(lsn);
