// Small pieces the sink's error messages are built from: a failed batch's row found and named by its
// key, and a value error's line with its advice. Pure functions of the rows and the target.

import type { Value } from '../wal2json/change.js';
import { shownIdent } from '../wal2json/shown-name.js';
import { COPY_VALUE_ADVICE, VALUE_ADVICE } from './apply-error.js';
import type { ColumnValueError } from './stage.js';
import type { TargetTable } from './target.js';
import type { Row } from './watermark-merge.js';

/**
 * A value error's line: its own advice when it has some (NaN, a NOT NULL null), else the general one
 * for where it was read: the stream's (the slot delivers it again) or a copy's.
 */
export function withAdvice(err: ColumnValueError, during: 'apply' | 'copy'): string {
  if (err.advised) return err.message;
  return `${err.message}; ${during === 'copy' ? COPY_VALUE_ADVICE : VALUE_ADVICE}`;
}

/** Rows (one value per column) as column arrays, the shape insertRows takes. */
export function columnsOf(rows: readonly Row[], width: number): Value[][] {
  const out: Value[][] = [];
  for (let c = 0; c < width; c++) out.push(rows.map((r) => r[c] ?? null));
  return out;
}

export function findRow(
  columns: readonly (readonly Value[])[],
  count: number,
  column: number,
  bad: (v: string) => boolean,
): number | undefined {
  const col = columns[column] ?? [];
  for (let i = 0; i < count; i++) {
    const v = col[i] ?? null;
    if (v !== null && bad(v)) return i;
  }
  return undefined;
}

/** Row `row`'s key values from column arrays, for error messages. */
export function describeRow(
  target: TargetTable,
  columns: readonly (readonly Value[])[],
  row: number,
): string {
  const names = target.key.map((k) => shownIdent(target.source.columns[k]?.name ?? '?'));
  const values = target.key.map((k) => {
    const v = columns[k]?.[row] ?? null;
    return v === null ? 'NULL' : JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  });
  return `(${names.join(', ')}) = (${values.join(', ')})`;
}
