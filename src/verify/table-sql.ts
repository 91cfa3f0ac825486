// The SQL verify runs on each side for one table, built from the same canonical forms so that the two
// texts of a row are equal exactly when the values are:
//
//   rows  : SELECT <row text> AS wd_row, <key text> AS wd_key [, <display text per column>]
//             FROM (SELECT <raw text per column> FROM table [OFFSET 0])
//   total : count(*) and the sum of each row text's 64-bit hash (order-independent; a duplicate row
//           adds its hash twice, so a multiset difference shows even where XOR would cancel)
//   bucket: the same per prefix of md5(key text), for narrowing a difference down (--rows)
//
// total and bucket leave the subquery open to folding, so that PostgreSQL can run them as a parallel
// aggregate (a LIMIT or OFFSET in a subquery forbids that): measured at 1M rows, about half the wall
// time. The price is that a length-framed part's canonical text is written twice (for its length and
// itself), which for the common types is a column reference (text) or nothing (bare parts, see
// canonical.ts). The rows read out (leafRows) keep OFFSET 0: there each raw text is also displayed.
// The key text of a keyless table is its row text.

import * as duckSql from '../sink/sql.js';
import type { SourceTable } from '../source/catalog.js';
import * as pgSql from '../source/quote.js';
import { type ColumnCanon, columnCanon, columnPart, hash64, type Side } from './canonical.js';

export interface Tolerance {
  readonly column: string;
  readonly rule: string;
}

export interface TableSql {
  /** Columns not compared exactly, and what is compared instead. */
  readonly tolerances: readonly Tolerance[];
  total(side: Side): string;
  /** Buckets of prefix length `len` under the given prefixes of length len-1 (all when empty). */
  buckets(side: Side, len: number, under: readonly string[]): string;
  /** The rows (key text, row text, each column's text) in buckets of prefix length `len`. */
  leafRows(side: Side, len: number, prefixes: readonly string[]): string;
}

/**
 * Each side's canonical forms: from the replica's column types as they were before the catch-up (the
 * source side is hashed meanwhile) and as they are after it; forms() says where they disagree.
 */
export interface Canons {
  readonly pg: readonly ColumnCanon[];
  readonly duck: readonly ColumnCanon[];
}

/** Canonical forms of a table's columns, given the DuckDB column types by name (when known). */
export function canonsOf(t: SourceTable, stored: ReadonlyMap<string, string> | undefined): ColumnCanon[] {
  return t.columns.map((c) => columnCanon(c, stored?.get(c.name)));
}

export function tableSql(t: SourceTable, duckName: string, pgName: string, canons: Canons): TableSql {
  const keyless = t.key.length === 0;
  const rows = (side: Side, display: boolean) => {
    const { quoteIdent } = side === 'pg' ? pgSql : duckSql;
    const from = side === 'pg' ? pgName : duckName;
    const raw = t.columns.map((c, i) => `${canons[side][i]?.[side](quoteIdent(c.name))} AS wd_r${i}`);
    const shown = display
      ? t.columns.map(
          (c, i) =>
            `${c.type.typname === 'bpchar' && side === 'pg' ? `concat(${quoteIdent(c.name)})` : `CAST(${quoteIdent(c.name)} AS TEXT)`} AS wd_d${i}`,
        )
      : [];
    const part = (i: number) => columnPart(side, `wd_r${i}`, canons[side][i]?.bare);
    // concat() builds the row's text once; a chain of || copies it again at every step.
    const rowText = `concat(${t.columns.map((_, i) => part(i)).join(', ')})`;
    const keyText = keyless ? rowText : `concat(${t.key.map(part).join(', ')})`;
    const pass = display ? t.columns.map((_, i) => `, wd_d${i}`).join('') : '';
    return `SELECT ${rowText} AS wd_row, ${keyText} AS wd_key${pass}
      FROM (SELECT ${[...raw, ...shown].join(', ')} FROM ${from}${display ? ' OFFSET 0' : ''}) wd_a`;
  };
  const bucket = (len: number) => `substr(md5(wd_key), 1, ${len})`;
  // Prefixes are hex digits, quoted alike on both sides.
  const within = (len: number, prefixes: readonly string[]) =>
    prefixes.length === 0 || len === 0
      ? ''
      : ` WHERE ${bucket(len)} IN (${prefixes.map((p) => pgSql.quoteLiteral(p)).join(', ')})`;
  return {
    tolerances: t.columns.flatMap((c, i) => {
      const tol = canons.duck[i]?.tolerance;
      return tol ? [{ column: c.name, rule: tol }] : [];
    }),
    total: (side) => `SELECT count(*), sum(${hash64(side, 'wd_row')}) FROM (${rows(side, false)}) wd_b`,
    buckets: (side, len, under) =>
      `SELECT ${bucket(len)} AS b, count(*), sum(${hash64(side, 'wd_row')}) FROM (${rows(side, false)}) wd_b${within(len - 1, under)} GROUP BY b`,
    leafRows: (side, len, prefixes) => `SELECT * FROM (${rows(side, true)}) wd_b${within(len, prefixes)}`,
  };
}
