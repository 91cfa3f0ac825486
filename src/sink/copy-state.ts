// An online copy's progress, in walduck.copies: one row per slot and table being copied, holding the
// copied-so-far key (watermark-merge.ts). A row is written when a copy is asked for (a table added to
// the set, `walduck resync`), rewritten in the DuckDB transaction that writes each chunk, and deleted in
// the one that writes the last: so after a kill -9 the file says exactly which keys are in DuckDB, and
// the next run goes on from there. Key values are kept as PostgreSQL printed them (JSON strings).

import type { DuckDBConnection } from '@duckdb/node-api';
import type { TableRef } from '../wal2json/change.js';
import { attachedCatalog } from './checkpoint.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { STATE_SCHEMA } from './target.js';
import { type CopyProgress, NOT_STARTED } from './watermark-merge.js';

async function copiesRef(conn: DuckDBConnection): Promise<string> {
  return `${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent('copies')}`;
}

export async function ensureCopies(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}`,
  );
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${await copiesRef(conn)} (
       slot VARCHAR NOT NULL,
       source_schema VARCHAR NOT NULL,
       source_table VARCHAR NOT NULL,
       progress VARCHAR NOT NULL,
       reason VARCHAR,
       updated_at TIMESTAMPTZ NOT NULL)`,
  );
}

export interface CopyRow extends TableRef {
  readonly progress: CopyProgress;
  readonly reason: string | null;
}

export async function readCopies(conn: DuckDBConnection, slot: string): Promise<CopyRow[]> {
  await ensureCopies(conn);
  const r = await conn.runAndReadAll(
    `SELECT source_schema, source_table, progress, reason FROM ${await copiesRef(conn)} WHERE slot = ${quoteLiteral(slot)}`,
  );
  return r.getRows().map((row) => ({
    schema: String(row[0]),
    table: String(row[1]),
    progress: parseProgress(String(row[2])),
    reason: row[3] === null ? null : String(row[3]),
  }));
}

/** Asks for a copy from the start (replacing one in progress); inside the caller's transaction, if any. */
export async function requestCopy(
  conn: DuckDBConnection,
  slot: string,
  t: TableRef,
  reason: string,
): Promise<void> {
  await ensureCopies(conn);
  await deleteCopy(conn, slot, t);
  await conn.run(
    `INSERT INTO ${await copiesRef(conn)} VALUES (${quoteLiteral(slot)}, ${quoteLiteral(t.schema)}, ${quoteLiteral(t.table)}, ${quoteLiteral(JSON.stringify(NOT_STARTED))}, ${quoteLiteral(reason)}, now())`,
  );
}

/** A chunk's progress, in the transaction that writes the chunk. */
export async function writeCopyProgress(
  conn: DuckDBConnection,
  slot: string,
  t: TableRef,
  p: CopyProgress,
): Promise<void> {
  await conn.run(
    `UPDATE ${await copiesRef(conn)} SET progress = ${quoteLiteral(JSON.stringify(p))}, updated_at = now() WHERE ${where(slot, t)}`,
  );
}

export async function deleteCopy(conn: DuckDBConnection, slot: string, t: TableRef): Promise<void> {
  await conn.run(`DELETE FROM ${await copiesRef(conn)} WHERE ${where(slot, t)}`);
}

function where(slot: string, t: TableRef): string {
  return `slot = ${quoteLiteral(slot)} AND source_schema = ${quoteLiteral(t.schema)} AND source_table = ${quoteLiteral(t.table)}`;
}

function parseProgress(text: string): CopyProgress {
  const j = JSON.parse(text) as Partial<CopyProgress>;
  return {
    ...(Array.isArray(j.key) ? { key: j.key.map(String) } : {}),
    inclusive: j.inclusive === true,
    done: j.done === true,
    chunks: Number(j.chunks ?? 0),
    rows: Number(j.rows ?? 0),
  };
}
