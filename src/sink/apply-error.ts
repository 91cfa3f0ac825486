// One line for every value or write walduck could not apply: which table, which column when known,
// which row (its key as PostgreSQL printed it), at which LSN, why, and what to do. DuckDB's own
// message is never the whole story: it stays the cause.

import { WalduckError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';

export interface ApplyWhere {
  readonly table: string;
  readonly column?: string;
  /** The row's key values, or a description ("a batch of 100 rows") when no single row is known. */
  readonly key?: string;
  readonly lsn?: Lsn;
  /** Streaming (a change) or the initial snapshot's copy. */
  readonly during: 'apply' | 'copy';
}

export class ApplyError extends WalduckError {
  override readonly name = 'ApplyError';
  readonly code = 'WALDUCK_APPLY';
  readonly phase: 'apply' | 'snapshot';
  constructor(
    readonly where: ApplyWhere,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${describeWhere(where)}: ${reason}`, options);
    this.phase = where.during === 'copy' ? 'snapshot' : 'apply';
  }
}

export function describeWhere(w: ApplyWhere): string {
  const parts = [`table ${w.table}`];
  if (w.column !== undefined) parts.push(`column ${JSON.stringify(w.column)}`);
  if (w.key !== undefined) parts.push(`key ${w.key}`);
  if (w.lsn !== undefined)
    parts.push(`${w.during === 'copy' ? 'snapshot at LSN' : 'LSN'} ${formatLsn(w.lsn)}`);
  return `cannot ${w.during === 'copy' ? 'copy' : 'apply'} a row (${parts.join(', ')})`;
}

/** The first line of an error's message: DuckDB's messages carry a multi-line SQL excerpt. */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** What the user can do about a value DuckDB cannot hold, said once for every such error. */
export const VALUE_ADVICE =
  'DuckDB cannot hold this value exactly and walduck never stores another one; nothing past it was acknowledged, so the slot delivers it again on every restart: leave the table out of --tables, or fix the row on the source and start a new replica (new DuckDB file and slot)';
