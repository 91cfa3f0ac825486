// --numeric exact: a numeric column is a DuckDB DECIMAL while its values fit one, and is widened, in
// the DuckDB transaction that brings the first value that does not fit, to the next type that holds
// them all: a larger DECIMAL(38,s) while the integer digits still fit, else VARCHAR holding the exact
// text. Widening only moves forward and never rounds: DuckDB's own text -> DECIMAL cast rounds extra
// fraction digits away silently ('1.5000000000001' becomes 1.5), so every value is measured here
// before it is staged.
//
// The rule for a column without a declared precision (unconstrained numeric, numeric(p > 38, s)):
//   - any NaN or ±Infinity, or more than 38 significant digits -> VARCHAR;
//   - a declared scale s (numeric(p > 38, s)) -> DECIMAL(38,s) while integer digits <= 38 - s;
//   - unconstrained -> DECIMAL(38,s) with s = the most fraction digits any value has (trailing zeros
//     do not count), but at least min(9, 38 - integer digits): room to grow without a rewrite.
// numeric(p <= 38, s) stays DECIMAL(p,s) (every finite value fits) until a NaN or ±Infinity: VARCHAR.
//
// The DuckDB table's column type is the record of the state: DuckDB's catalog is transactional, so
// the ALTER commits or rolls back with the rows and the LSN, and a restart reads it back.

import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent } from './sql.js';
import {
  EXACT_DEFAULT_SCALE,
  type ExactColumn,
  type ExactState,
  exactTypeName,
  firstExactState,
  unpaddedNumeric,
} from './type-map.js';

/** What a set of values needs: the most integer and fraction digits, and whether one is not finite. */
export interface Need {
  readonly int: number;
  readonly frac: number;
  readonly nonFinite: boolean;
}

export const NO_NEED: Need = { int: 0, frac: 0, nonFinite: false };

/** PostgreSQL's numeric text ("-12.340", "NaN"; never an exponent) -> its digits; leading/trailing zeros do not count. */
export function needOf(text: string): Need {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity')
    return { int: 0, frac: 0, nonFinite: true };
  let i = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  while (i < text.length && text.charCodeAt(i) === 48 /* 0 */) i++;
  const dot = text.indexOf('.', i);
  const intEnd = dot < 0 ? text.length : dot;
  let fracEnd = text.length;
  if (dot >= 0) while (fracEnd > dot + 1 && text.charCodeAt(fracEnd - 1) === 48) fracEnd--;
  return { int: intEnd - i, frac: dot < 0 ? 0 : fracEnd - dot - 1, nonFinite: false };
}

export function fits(state: ExactState, n: Need): boolean {
  if (state === 'text') return true;
  return !n.nonFinite && n.frac <= state.scale && n.int <= state.precision - state.scale;
}

export function merge(a: Need, b: Need): Need {
  return {
    int: Math.max(a.int, b.int),
    frac: Math.max(a.frac, b.frac),
    nonFinite: a.nonFinite || b.nonFinite,
  };
}

/** The state that holds values needing `n` (see the rule above); never narrower than `from`'s kind. */
export function choose(col: ExactColumn, n: Need): ExactState {
  if (n.nonFinite) return 'text';
  if (col.precision !== undefined) return firstExactState(col.precision, col.scale);
  if (col.scale !== undefined) {
    const first = firstExactState(undefined, col.scale);
    return first !== 'text' && n.int <= 38 - first.scale ? first : 'text';
  }
  if (n.int + n.frac > 38) return 'text';
  return { precision: 38, scale: Math.max(n.frac, Math.min(EXACT_DEFAULT_SCALE, 38 - n.int)) };
}

/** What the values stored in column `col` of `table` need (NULLs aside), read in the open transaction. */
export async function measure(conn: DuckDBConnection, table: string, col: string): Promise<Need> {
  const c = quoteIdent(col);
  const v = 'wd_v';
  const finite = `${v} NOT IN ('NaN', 'Infinity', '-Infinity')`;
  const r = await conn.runAndReadAll(
    `SELECT coalesce(bool_or(NOT (${finite})), false),
            coalesce(max(length(ltrim(split_part(ltrim(${v}, '-'), '.', 1), '0'))) FILTER (WHERE ${finite}), 0),
            coalesce(max(length(rtrim(split_part(${v}, '.', 2), '0'))) FILTER (WHERE ${finite}), 0)
       FROM (SELECT CAST(${c} AS VARCHAR) AS ${v} FROM ${table} WHERE ${c} IS NOT NULL)`,
  );
  const row = r.getRows()[0] ?? [];
  return { nonFinite: row[0] === true, int: Number(row[1] ?? 0), frac: Number(row[2] ?? 0) };
}

/**
 * The SQL turning column `ref` from state `from` into state `to`, value for value. A DECIMAL of an
 * unconstrained numeric becomes text without its padding zeros ("1.500000000" -> "1.5"), as every
 * text of it is stored (type-map.ts); a declared scale keeps them, which is PostgreSQL's own text.
 */
export function convertSql(col: ExactColumn, from: ExactState, to: ExactState, ref: string): string {
  if (to !== 'text') return `CAST(${ref} AS ${exactTypeName(to)})`;
  if (from === 'text') return ref;
  const t = `CAST(${ref} AS VARCHAR)`;
  return col.scale !== undefined || from.scale === 0 ? t : unpaddedNumeric(t);
}

export interface Change {
  readonly column: string;
  readonly col: ExactColumn;
  readonly to: ExactState;
}

/**
 * Alters the columns in the caller's open transaction. DuckDB refuses to commit an ALTER of a table
 * the transaction has already updated or deleted from (`touched`): then the table is rebuilt with the
 * new types (CREATE TABLE AS, DROP, RENAME), which it commits. walduck's tables have no constraints or
 * indexes, so the rebuilt table is the same table.
 */
export async function alterColumns(
  conn: DuckDBConnection,
  t: { readonly name: string; readonly catalog: string; readonly schema: string; readonly table: string },
  columns: readonly string[],
  changes: readonly Change[],
  touched: boolean,
): Promise<void> {
  const byName = new Map(changes.map((c) => [c.column, c]));
  if (!touched) {
    for (const c of changes) {
      const ref = quoteIdent(c.column);
      await conn.run(
        `ALTER TABLE ${t.name} ALTER COLUMN ${ref} TYPE ${exactTypeName(c.to)} USING ${convertSql(c.col, c.col.state, c.to, ref)}`,
      );
    }
    return;
  }
  const select = columns.map((name) => {
    const ref = quoteIdent(name);
    const c = byName.get(name);
    return c ? `${convertSql(c.col, c.col.state, c.to, ref)} AS ${ref}` : ref;
  });
  const fresh = `${quoteIdent(t.catalog)}.${quoteIdent(t.schema)}.${quoteIdent(`__walduck_widen_${t.table}`)}`;
  await conn.run(`CREATE TABLE ${fresh} AS SELECT ${select.join(', ')} FROM ${t.name}`);
  await conn.run(`DROP TABLE ${t.name}`);
  await conn.run(`ALTER TABLE ${fresh} RENAME TO ${quoteIdent(t.table)}`);
}

/** An information_schema data type as an ExactState, if it is one (DECIMAL(p,s) or VARCHAR). */
export function parseExactState(dataType: string): ExactState | undefined {
  const t = dataType.replace(/\s+/g, '').toUpperCase();
  if (t === 'VARCHAR') return 'text';
  const m = /^DECIMAL\((\d+),(\d+)\)$/.exec(t);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

/** Whether a table found in DuckDB may hold the column in `found`: one of the states it can reach. */
export function reachable(col: ExactColumn, found: ExactState): boolean {
  if (found === 'text') return true;
  if (col.precision !== undefined) return found.precision === col.precision && found.scale === col.scale;
  if (found.precision !== 38) return false;
  if (col.scale !== undefined) {
    const first = firstExactState(undefined, col.scale);
    return first !== 'text' && first.scale === found.scale;
  }
  return found.scale <= 38;
}
