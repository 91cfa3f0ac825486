// What the sink does with exact-numeric.ts's rule, on a target table inside the open DuckDB
// transaction: widen one column for a value that does not fit (streaming), turn the numeric columns
// into text for the initial copy, and settle them on the narrowest type once the copy is complete.
// Each returns the new states, for the sink to rebuild the table's mappings with.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { alterColumns, type Change, choose, fits, measure, merge, type Need } from './exact-numeric.js';
import type { TargetTable } from './target.js';
import { type ExactState, exactTypeName } from './type-map.js';

export type States = ReadonlyMap<string, ExactState>;

const columnNames = (t: TargetTable) => t.source.columns.map((c) => c.name);
const statesOf = (changes: readonly Change[]): States => new Map(changes.map((c) => [c.column, c.to]));

/**
 * Widens column `p` so that it holds what it holds plus a value needing `need`; says so in one line.
 * `touched`: the open transaction updated or deleted rows of the table (see alterColumns).
 */
export async function widenColumn(
  conn: DuckDBConnection,
  target: TargetTable,
  p: number,
  need: Need,
  lsn: Lsn,
  touched: boolean,
  warn: (msg: string) => void,
): Promise<States> {
  const column = target.source.columns[p]?.name ?? '';
  const exact = target.mappings[p]?.exact;
  if (!exact) throw new InternalError('apply', `column ${column} is not a widening numeric`);
  const all = merge(await measure(conn, target.name, column), need);
  const chosen = choose(exact, all);
  const to: ExactState = fits(chosen, all) ? chosen : 'text';
  await alterColumns(conn, target, columnNames(target), [{ column, col: exact, to }], touched);
  const why = need.nonFinite
    ? 'a NaN or ±Infinity'
    : `a value with ${need.int} integer and ${need.frac} fraction digits`;
  warn(
    `${shownName(target.source)}: column ${shownIdent(column)} widened from ${exactTypeName(exact.state)} to ${exactTypeName(to)} at LSN ${formatLsn(lsn)} (--numeric exact: ${why} did not fit; every stored value kept exactly)`,
  );
  return new Map([[column, to]]);
}

/** Before a table's first copied rows: its DECIMAL numeric columns become text (the table is empty). */
export async function textForCopy(conn: DuckDBConnection, target: TargetTable): Promise<States> {
  const changes: Change[] = [];
  target.mappings.forEach((m, i) => {
    if (m.exact && m.exact.state !== 'text')
      changes.push({ column: target.source.columns[i]?.name ?? '', col: m.exact, to: 'text' });
  });
  if (changes.length > 0) await alterColumns(conn, target, columnNames(target), changes, false);
  return statesOf(changes);
}

/** After the copy: each numeric column the narrowest type that holds every copied value. */
export async function settleCopied(
  conn: DuckDBConnection,
  target: TargetTable,
  lsn: Lsn,
  log: (msg: string) => void,
): Promise<States> {
  const changes: Change[] = [];
  for (const [i, m] of target.mappings.entries()) {
    if (!m.exact) continue;
    const column = target.source.columns[i]?.name ?? '';
    const need = await measure(conn, target.name, column);
    const chosen = choose(m.exact, need);
    const to: ExactState = fits(chosen, need) ? chosen : 'text';
    log(
      `${shownName(target.source)}: column ${shownIdent(column)} stored as ${exactTypeName(to)} (--numeric exact, from the values of the snapshot at ${formatLsn(lsn)})`,
    );
    if (to !== m.exact.state) changes.push({ column, col: m.exact, to });
  }
  // Only inserts so far in this transaction: a plain ALTER commits.
  if (changes.length > 0) await alterColumns(conn, target, columnNames(target), changes, false);
  return statesOf(changes);
}
