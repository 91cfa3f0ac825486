// A write the sink could not make, turned into one ApplyError line that names where: table, column,
// key, LSN. Apart from duckdb-sink.ts because it runs only once something has failed, and reads
// nothing of the sink but the table and the rows: the hot path only calls it from its catch.

import { WalduckError } from '../protocol/errors.js';
import type { Lsn } from '../protocol/lsn.js';
import type { Change, Value } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { ApplyError, type ApplyWhere, duckReason, firstLine } from './apply-error.js';
import { findBadStaged } from './diagnose.js';
import { DEFAULT_MEMORY_LIMIT } from './duckdb-file.js';
import { describeRow, findRow, withAdvice } from './row-describe.js';
import { type Table, tableKey } from './sink-table.js';
import { ColumnValueError } from './stage.js';

/**
 * A failed write of many rows (a flush, a copied batch): DuckDB's message names no row, so find the
 * first value that does not convert (in a scratch DuckDB) and name its column and key. `lsn`: the
 * snapshot's for a copy, the last source commit's while applying (named when past 0).
 */
export async function wrapBatchError(
  err: unknown,
  t: Table,
  during: 'apply' | 'copy',
  lsn: Lsn | undefined,
  columns: readonly (readonly Value[])[],
  count: number,
): Promise<unknown> {
  if (err instanceof ApplyError) return err;
  const target = t.applier.target;
  const base = {
    table: shownName(target.source),
    during,
    ...(lsn !== undefined && lsn > 0n ? { lsn } : {}),
  };
  // No row is at fault: looking for one would blame a row and send the user the wrong way.
  if (isOutOfMemory(err)) return outOfMemory(err, base);
  if (err instanceof ColumnValueError) {
    // Raised while preparing: find the row in the raw columns by preparing each value again.
    const row = findRow(columns, count, err.column, (v) => {
      try {
        t.stage.prepare(err.column, v);
        return false;
      } catch {
        return true;
      }
    });
    return new ApplyError(
      {
        ...base,
        column: target.source.columns[err.column]?.name ?? '?',
        key: row === undefined ? `(one of ${count} rows)` : describeRow(target, columns, row),
      },
      withAdvice(err, during),
      { cause: err, snippet: err.snippet },
    );
  }
  // A copy's columns are PostgreSQL's text, which insertRows prepared (arrays, BC dates, intervals
  // rewritten) before DuckDB saw them: diagnose the prepared values, or the cast of the raw text blamed
  // the first array of the batch for another row's value.
  const given = during === 'copy' ? prepared(t, columns, count) : columns;
  const bad = await findBadStaged(target.mappings, given, count);
  const where = bad
    ? {
        ...base,
        column: target.source.columns[bad.column]?.name ?? '?',
        key: describeRow(target, columns, bad.row),
      }
    : { ...base, key: `(one of ${count} rows)` };
  const duck = duckReason(err);
  const value = bad ? (columns[bad.column]?.[bad.row] ?? null) : null;
  return new ApplyError(where, `DuckDB refused the write: ${duck.text}`, {
    cause: err,
    snippet: value ?? duck.snippet,
  });
}

/** The columns as insertRows stages them; a value its preparing refuses stays as it was. */
function prepared(t: Table, columns: readonly (readonly Value[])[], count: number): Value[][] {
  return columns.map((col, p) => {
    const out = new Array<Value>(count);
    for (let i = 0; i < count; i++) {
      const v = col[i] ?? null;
      try {
        out[i] = v === null ? null : t.stage.prepare(p, v);
      } catch {
        out[i] = v;
      }
    }
    return out;
  });
}

/**
 * A change that could not be applied, in one line: table, column, key, LSN, reason, what to do.
 * `tables`: the sink's, by key (a change of a table it does not hold keeps `err` as it is).
 */
export function wrapChangeError(err: unknown, change: Change, tables: ReadonlyMap<string, Table>): unknown {
  if (err instanceof ApplyError) return err;
  if (change.kind !== 'insert' && change.kind !== 'update' && change.kind !== 'delete') return err;
  const t = tables.get(tableKey(change.schema, change.table));
  if (!t) return err;
  const image =
    change.kind === 'delete'
      ? change.old
      : change.kind === 'update'
        ? (change.old ?? change.new)
        : change.new;
  const key = t.stage.describeKey(image);
  const where = {
    table: shownName(change),
    ...(key !== undefined ? { key } : {}),
    lsn: change.lsn,
    during: 'apply' as const,
  };
  if (err instanceof ColumnValueError) {
    const column = t.applier.target.source.columns[err.column]?.name;
    return new ApplyError(
      { ...where, ...(column !== undefined ? { column } : {}) },
      withAdvice(err, 'apply'),
      {
        cause: err,
        snippet: err.snippet,
      },
    );
  }
  if (isOutOfMemory(err)) return outOfMemory(err, { table: where.table, lsn: where.lsn, during: 'apply' });
  // Our own errors name no row data; DuckDB's quote the value. Ours are one line, unless a name holds
  // a newline (legal in PostgreSQL): folded, not cut there, or the line loses what follows the name.
  if (err instanceof WalduckError)
    return new ApplyError(where, err.message.replace(/\s*\n\s*/g, ' '), { cause: err });
  const duck = duckReason(err);
  return new ApplyError(where, duck.text, { cause: err, snippet: duck.snippet });
}

/** DuckDB's buffer pool (--duckdb-memory-limit) could not hold what the open transaction needs. */
function isOutOfMemory(err: unknown): boolean {
  return !(err instanceof WalduckError) && /^Out of Memory Error:/.test(firstLine(err));
}

/**
 * One source transaction is one DuckDB transaction (exactly once), and DuckDB keeps what an UPDATE
 * changes in memory until the commit, where inserted rows spill to disk: a large enough UPDATE fails
 * the same way on every restart until the limit is raised. Before, this line blamed "(one of N rows)"
 * of the batch and named no way out. DuckDB's text here holds sizes only, no row data.
 */
function outOfMemory(err: unknown, where: ApplyWhere): ApplyError {
  return new ApplyError(
    where,
    `DuckDB ran out of memory holding this source transaction (${firstLine(err)}): DuckDB keeps the rows an UPDATE changes in memory until the commit, and one source transaction commits as one; nothing of it was stored or acknowledged, so it fails the same way on every restart until you raise --duckdb-memory-limit (default ${DEFAULT_MEMORY_LIMIT}, e.g. 1GB)`,
    { cause: err },
  );
}
