// ALTER TABLE a RENAME TO b (or SET SCHEMA) at the source, applied to the DuckDB table inside the
// sink's open transaction, at the rename's place in the stream (source/partitions.ts finds it).
//
// A rename within one DuckDB schema is DuckDB's own RENAME. DuckDB has no SET SCHEMA, and it refuses to
// commit some ALTERs of a table the transaction already updated or deleted from (schema-apply.ts):
// then, as for exact widening, the table is rebuilt (CREATE TABLE AS SELECT under the new name, DROP
// the old one), which costs a copy of the table. walduck's tables have no constraints or indexes, so
// the copy is the same table.

import type { DuckDBConnection } from '@duckdb/node-api';
import { WalduckError } from '../protocol/errors.js';
import type { TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { duckFold, duckFoldSql, quoteIdent, quoteLiteral } from './sql.js';
import type { TargetTable } from './target.js';

export class TableRenameError extends WalduckError {
  override readonly name = 'TableRenameError';
  readonly code = 'WALDUCK_TABLE_RENAMED';
  readonly phase = 'apply';
}

/**
 * A followed table was renamed and another table took its old name, which the open batch may have
 * applied to the wrong table: the batch is rolled back and the stream read again from the last commit
 * (a transient failure: the replicator reconnects), now knowing where the rename is.
 */
export class RenameReplay extends WalduckError {
  override readonly name = 'RenameReplay';
  readonly code = 'WALDUCK_RENAME_REPLAY';
  readonly phase = 'apply';
}

/** Renames (or moves) `from`'s DuckDB table to where `to` lands. */
export async function renameDuckTable(
  conn: DuckDBConnection,
  from: TargetTable,
  to: TargetTable,
  touched: boolean,
): Promise<'renamed' | 'rebuilt'> {
  // A rename that changes only case ("rc" to "RC", or its schema's) lands on the same DuckDB table, as
  // DuckDB names are case-insensitive: the table found there is this one, not another in the way
  // (before, walduck stopped and asked to drop it). DuckDB renames it to the new case where it can.
  if (duckFold(from.schema) === duckFold(to.schema) && duckFold(from.table) === duckFold(to.table)) {
    if (!touched && from.table !== to.table)
      await conn.run(`ALTER TABLE ${from.name} RENAME TO ${quoteIdent(to.table)}`);
    return 'renamed';
  }
  const there = await conn.runAndReadAll(
    `SELECT 1 FROM information_schema.tables WHERE table_catalog = ${quoteLiteral(to.catalog)} AND ${duckFoldSql('table_schema')} = ${quoteLiteral(duckFold(to.schema))} AND ${duckFoldSql('table_name')} = ${quoteLiteral(duckFold(to.table))}`,
  );
  if (there.getRows().length > 0)
    throw new TableRenameError(
      `table ${shownName(from.source)} was renamed to ${shownName(to.source)} at the source, but DuckDB already has a table ${shownName(to)} (one walduck no longer follows, or made by hand): drop or rename that DuckDB table (walduck replicate --drop-removed drops tables walduck stopped following), then start walduck again`,
    );
  const sameSchema = duckFold(from.schema) === duckFold(to.schema);
  if (sameSchema && !touched) {
    await conn.run(`ALTER TABLE ${from.name} RENAME TO ${quoteIdent(to.table)}`);
    return 'renamed';
  }
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(to.catalog)}.${quoteIdent(to.schema)}`);
  await conn.run(`CREATE TABLE ${to.name} AS SELECT * FROM ${from.name}`);
  await conn.run(`DROP TABLE ${from.name}`);
  return 'rebuilt';
}

/** A rename of a table being copied online is not followed in place: the copier reads the old name. */
export function copyingRefusal(from: TableRef, to: TableRef): TableRenameError {
  return new TableRenameError(
    `table ${shownName(from)} was renamed to ${shownName(to)} at the source while walduck was copying it online, which walduck does not follow in place (the copy reads the old name): start walduck again (with ${shownName(to)} in --tables instead of ${shownName(from)}, if it names tables), and ${shownName(to)} is copied online from the start`,
  );
}

/** A change under a renamed table's old name, taken by another table, that cannot be copied again online. */
export function ambiguousRename(
  from: TableRef,
  to: TableRef,
  problem: string,
  /** The table that cannot be copied: the renamed one, or the one that took its name. */
  uncopyable: TableRef = to,
): TableRenameError {
  return new TableRenameError(
    `table ${shownName(from)} was renamed to ${shownName(to)} in a transaction that also changed rows under the name ${shownName(from)}, which another table has taken since: those changes may be either table's, and ${shownName(uncopyable)} cannot be copied again online (${problem}): replicate into a new DuckDB file`,
  );
}
