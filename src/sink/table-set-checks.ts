// What a start refuses before it writes anything to the table set (table-set.ts, TableSet.reconcile):
// a chosen table that would land in the DuckDB table a record no longer followed keeps (keptHolder,
// also asked while streaming: TableSetMarks.collision), or one joining with no record whose DuckDB
// table holds rows no record of this replica accounts for. Kept apart from the start's decision,
// which reads on only once these hold: both are questions of where a table lands in DuckDB, not of
// what the source did while walduck was stopped.

import type { DuckDBConnection } from '@duckdb/node-api';
import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { duckFold } from './sql.js';
import { recordKey, recordRef, type TableRecord, TableSetError } from './table-records.js';
import { heldRows, landingKey as lands, STATE_SCHEMA, targetSchema } from './target.js';

/**
 * The record of another source table whose DuckDB table `t` would land in, among `kept` (records no
 * longer followed, whose DuckDB tables stay as they are): DuckDB matches names case-insensitively and
 * PostgreSQL's public lands in main, so a stopped "Orders" and a chosen orders share one DuckDB table.
 * Following orders there would overwrite (an online copy) or mix into the rows kept for "Orders".
 */
export function keptHolder(kept: Iterable<TableRecord>, t: TableRef): TableRecord | undefined {
  const mine = lands(targetSchema(t.schema), t.table);
  for (const r of kept)
    if (
      recordKey(r) !== refKey(t) &&
      r.targetSchema !== null &&
      r.targetTable !== null &&
      lands(r.targetSchema, r.targetTable) === mine
    )
      return r;
  return undefined;
}

/** One line for keptHolder's finding: what collides, and the two ways out. */
export function keptCollision(t: TableRef, holder: TableRecord): string {
  return `${shownName(t)} would land in DuckDB table ${shownName({ schema: targetSchema(t.schema), table: t.table })}, which holds ${shownName(recordRef(holder))}, no longer followed and left as it is (DuckDB names are case-insensitive, and PostgreSQL's public lands in main): start with --drop-removed to drop that table first, or replicate ${shownName(t)} into another DuckDB file`;
}

/**
 * Checked before a start writes anything, against the records `stored` (a replica's, not a new
 * file's): `chosen` are the tables followed from now on; with `dropRemoved` a stopped record's DuckDB
 * table is dropped, so it keeps nothing.
 */
export async function refuseLandingCollisions(
  duck: DuckDBConnection,
  catalog: string,
  stored: readonly TableRecord[],
  chosen: readonly TableRef[],
  dropRemoved: boolean,
): Promise<void> {
  const current = new Set(chosen.map(refKey));
  const kept = stored.filter((r) => !current.has(recordKey(r)) && (r.state === 'skipped' || !dropRemoved));
  for (const t of chosen) {
    const holder = keptHolder(kept, t);
    if (holder) throw new TableSetError('WALDUCK_TABLE_COLLISION', keptCollision(t, holder));
  }
  // A table joining with no record, whose DuckDB table holds rows no record of this replica
  // accounts for (made by hand, or another slot's): its online copy replaced them, exit 0.
  const landed = new Set(
    stored.flatMap((r) =>
      r.targetSchema !== null && r.targetTable !== null ? [lands(r.targetSchema, r.targetTable)] : [],
    ),
  );
  for (const t of chosen) {
    // (walduck's own schema: describeTarget refuses that in its own words.)
    if (landed.has(lands(targetSchema(t.schema), t.table)) || duckFold(t.schema) === STATE_SCHEMA) continue;
    const found = await heldRows(duck, catalog, targetSchema(t.schema), t.table);
    if (found !== undefined)
      throw new TableSetError(
        'WALDUCK_TABLE_COLLISION',
        `${shownName(t)} joins this replica, but its DuckDB table ${found} already holds rows walduck did not write for it (made by hand, another slot's, or another table's: DuckDB names are case-insensitive): copying ${shownName(t)} there would replace them; drop or rename that DuckDB table, or replicate ${shownName(t)} into another DuckDB file`,
      );
  }
}
