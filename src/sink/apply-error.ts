// One line for every value or write walduck could not apply: which table, which column when known,
// which row (its key as PostgreSQL printed it), at which LSN, why, and what to do. DuckDB's own
// message is never the whole story: it stays the cause.

import { WalduckError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { shownIdent } from '../wal2json/shown-name.js';

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
  /** The row data involved (the value, DuckDB's unmasked message): shown with --debug-values only. */
  readonly snippet: string;
  constructor(
    readonly where: ApplyWhere,
    reason: string,
    options?: { cause?: unknown; snippet?: string },
  ) {
    super(
      `${describeWhere(where)}: ${reason}`,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.phase = where.during === 'copy' ? 'snapshot' : 'apply';
    this.snippet = options?.snippet ?? '';
  }
}

export function describeWhere(w: ApplyWhere): string {
  const parts = [`table ${w.table}`];
  if (w.column !== undefined) parts.push(`column ${shownIdent(w.column)}`);
  if (w.key !== undefined) parts.push(`key ${w.key}`);
  if (w.lsn !== undefined)
    parts.push(`${w.during === 'copy' ? 'snapshot at LSN' : 'LSN'} ${formatLsn(w.lsn)}`);
  return `cannot ${w.during === 'copy' ? 'copy' : 'apply'} a row (${parts.join(', ')})`;
}

/**
 * DuckDB's message for a line of ours, without the row data it quotes: DuckDB puts the value in quotes
 * (`Could not convert string 'abc' to INT32`, `… string "NaN" to DECIMAL(10,2)`), and stderr ends up
 * in logs that are kept and shared. Everything between the first and last quote becomes `'…'`; the whole first line goes to the
 * error's snippet, which the CLI shows with --debug-values only.
 */
export function duckReason(err: unknown): { text: string; snippet: string } {
  const line = firstLine(err);
  // Greedy, first quote to last: a value may hold quotes itself; masking too much is the safe side.
  const text = line.replace(/'.*'/, "'…'").replace(/".*"/, "'…'");
  return { text, snippet: text === line ? '' : line };
}

/** The first line of an error's message: DuckDB's messages carry a multi-line SQL excerpt. */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** What the user can do about a value DuckDB cannot hold, said once for every such error. */
/** The same for a value read by a copy (the initial snapshot, an online copy): no slot replays it. */
export const COPY_VALUE_ADVICE =
  'DuckDB cannot hold this value exactly and walduck never stores another one: fix the row on the source or leave the table out of --tables, then run again';
export const VALUE_ADVICE =
  'DuckDB cannot hold this value exactly and walduck never stores another one; nothing past it was acknowledged, so the slot delivers it again on every restart: leave the table out of --tables, or fix the row on the source and start a new replica (new DuckDB file and slot)';
