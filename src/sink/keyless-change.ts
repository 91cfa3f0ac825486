// A change to a table without a key (REPLICA IDENTITY FULL, no primary key): such a table is a
// multiset, and an UPDATE or DELETE must touch exactly one of possibly identical rows, which apply.ts's
// set-based join by old key cannot say. So each goes alone, on the `rowid` of the first row equal to
// the old image. Apart from apply.ts: one statement per change with a refusal of its own, not a batch.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { RowImage, Value } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { duckFold, quoteIdent } from './sql.js';
import { StageError, type TableStage } from './stage.js';
import type { TargetTable } from './target.js';

/**
 * One UPDATE or DELETE on a keyless table: the first row equal (NULL-safe) to the old image. Values
 * are prepared as staged ones are (`stage.prepare`), so both paths store the same thing. Returns the
 * number of rows it changed (the caller checks that it is one).
 */
export async function keylessRowChange(
  conn: DuckDBConnection,
  t: TargetTable,
  stage: TableStage,
  old: RowImage,
  row: RowImage | undefined,
): Promise<number> {
  // A column named rowid (DuckDB matches names case-insensitively) hides DuckDB's rowid, and there is
  // no other name for it: the statement below would match the column's values and change other rows.
  const hiding = t.source.columns.find((c) => duckFold(c.name) === 'rowid');
  if (hiding) {
    const name = shownName(t.source);
    throw new StageError(
      `${name} has no key and a column named ${shownIdent(hiding.name)}, which hides DuckDB's rowid, by which walduck changes one of several equal rows: an UPDATE or DELETE of it cannot be applied (nothing after it acknowledged); rename the column or give the table a primary key on the source, then replicate it into a new DuckDB file (a table without a key cannot be copied again online), or leave it out of --tables`,
    );
  }
  const params: Value[] = [];
  const param = (i: number, v: Value): string => {
    params.push(stage.prepare(i, v));
    return t.mappings[i]?.convert(`CAST($${params.length} AS VARCHAR)`) ?? '';
  };
  // With FULL identity the old image holds every column, except that format-version 1 leaves out
  // those whose old value was NULL (v2 lists them as null): an absent column matches NULL.
  const oldValues: Value[] = t.mappings.map(() => null);
  old.names.forEach((name, j) => {
    oldValues[stage.positionOf(name)] = old.values[j] ?? null;
  });
  const sets: string[] = [];
  if (row) {
    row.names.forEach((name, j) => {
      sets.push(`${quoteIdent(name)} = ${param(stage.positionOf(name), row.values[j] ?? null)}`);
    });
  }
  const match = t.source.columns
    .map((c, i) => `${quoteIdent(c.name)} IS NOT DISTINCT FROM ${param(i, oldValues[i] ?? null)}`)
    .join(' AND ');
  const which = `rowid = (SELECT rowid FROM ${t.name} WHERE ${match} LIMIT 1)`;
  const sql = row
    ? `UPDATE ${t.name} SET ${sets.join(', ')} WHERE ${which}`
    : `DELETE FROM ${t.name} WHERE ${which}`;
  return (await conn.run(sql, params)).rowsChanged;
}
