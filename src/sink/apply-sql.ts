// The SQL of a table's flush (apply.ts runs it): the DELETE by old key, the UPDATEs matched on old key
// (whole rows as DELETE then INSERT, rows with unchanged TOAST columns by UPDATE), and the INSERT,
// each converting the staged text with the column's SQL expression from type-map.ts. Made once per
// table from its target and staging tables; apart from apply.ts so that what each statement does
// and why reads in one place, and apply.ts is the order that runs them.

import { quoteIdent, quoteLiteral } from './sql.js';
import { OP_INSERT, OP_UPDATE } from './stage.js';
import type { TargetTable } from './target.js';

/** A table's flush statements, made once (applyStatements). */
export interface ApplySql {
  readonly delete: string;
  readonly updateMasked: string;
  readonly insert: string;
  readonly updateDelete: string;
  readonly updateInsert: string;
  readonly updateMatched: string;
  readonly updateAll: string;
}

/**
 * The statements of `target`'s flush from the full staging table `stageRef` and the DELETE rows' one
 * `deletesRef`, and `keyMatch`: the target row `t` a staged row `s` updates or deletes (its old key).
 */
export function applyStatements(
  target: TargetTable,
  stageRef: string,
  deletesRef: string,
): { keyMatch: string; sql: ApplySql } {
  const col = (i: number) => quoteIdent(target.source.columns[i]?.name ?? '');
  const conv = (i: number, ref: string) => target.mappings[i]?.convert(ref) ?? ref;
  // The target is `t` and the staged rows `s`: qualified by its own name, a target named s whose
  // columns include a staged one's name (_op, _c0…) was ambiguous to DuckDB's binder.
  const keyMatch = target.key.map((k, j) => `t.${col(k)} = ${conv(k, `s._k${j}`)}`).join(' AND ');
  const all = target.mappings.map((_, i) => i);
  // The staged rows `where` into the target, and an UPDATE of the target from the staged rows
  // `where`: a column the row's mask leaves out (unchanged TOAST) keeps its value.
  const insertWhere = (where: string) =>
    `INSERT INTO ${target.name} SELECT ${all.map((i) => conv(i, `_c${i}`)).join(', ')} FROM ${stageRef} WHERE ${where}`;
  const updateWhere = (where: string) =>
    `UPDATE ${target.name} AS t SET ${all
      .map(
        (i) =>
          `${col(i)} = CASE WHEN s._mask IS NULL OR substr(s._mask, ${i + 1}, 1) = '1' THEN ${conv(i, `s._c${i}`)} ELSE t.${col(i)} END`,
      )
      .join(', ')} FROM ${stageRef} s WHERE ${where} AND ${keyMatch}`;
  const sql: ApplySql = {
    delete: `DELETE FROM ${target.name} AS t USING ${deletesRef} s WHERE ${keyMatch}`,
    // An UPDATE that carries the whole row goes in as DELETE of the old key, then INSERT: DuckDB
    // keeps what an UPDATE changes in memory until the commit (not spilled), so a large source
    // UPDATE ran out of --duckdb-memory-limit, on every restart; deleted rows are a mark each, and
    // inserted ones spill. Only an UPDATE whose image left columns out (unchanged TOAST) needs the
    // row's other values, read by the UPDATE below. Run in the order DELETE, masked UPDATE, INSERT:
    // a whole row's new key may be a masked row's old key (keys renumbered across transactions),
    // and inserted first it was matched by the masked UPDATE too.
    updateDelete: `DELETE FROM ${target.name} AS t USING ${stageRef} s WHERE s._op = '${OP_UPDATE}' AND s._mask IS NULL AND ${keyMatch}`,
    updateInsert: insertWhere(`_op = '${OP_UPDATE}' AND _mask IS NULL`),
    // Whether each whole-row UPDATE finds exactly its row: DELETE plus INSERT of a row DuckDB does
    // not hold (--no-snapshot, a hand edit) would add it, where an UPDATE changes nothing and the
    // divergence is said. Then all go through the one UPDATE below, as before.
    updateMatched: `SELECT count(*), count(t.${col(target.key[0] ?? 0)}) FROM ${stageRef} s LEFT JOIN ${target.name} AS t ON ${keyMatch} WHERE s._op = '${OP_UPDATE}' AND s._mask IS NULL`,
    updateAll: updateWhere(`s._op = '${OP_UPDATE}'`),
    updateMasked: updateWhere(`s._op = '${OP_UPDATE}' AND s._mask IS NOT NULL`),
    insert: insertWhere(`_op = '${OP_INSERT}'`),
  };
  return { keyMatch, sql };
}

/** UPDATE of the staged rows with this mask, setting the columns it marks present. */
export function maskedUpdate(t: TargetTable, stageRef: string, keyMatch: string, mask: string): string {
  const col = (i: number) => quoteIdent(t.source.columns[i]?.name ?? '');
  const present = t.mappings.map((_, i) => i).filter((i) => mask[i] === '1');
  return `UPDATE ${t.name} AS t SET ${present
    .map((i) => `${col(i)} = ${t.mappings[i]?.convert(`s._c${i}`) ?? `s._c${i}`}`)
    .join(
      ', ',
    )} FROM ${stageRef} s WHERE s._op = '${OP_UPDATE}' AND s._mask = ${quoteLiteral(mask)} AND ${keyMatch}`;
}
