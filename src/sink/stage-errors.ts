// The errors of staging a change (stage.ts): a change the stage cannot place, and a value it cannot
// prepare. Split from stage.ts to keep it small.

import { WalduckError } from '../protocol/errors.js';

export class StageError extends WalduckError {
  override readonly name = 'StageError';
  readonly code = 'WALDUCK_APPLY';
  readonly phase = 'apply';
}

/**
 * A value of column `column` (a target position) that could not be prepared; the sink adds the row and
 * LSN. The message never holds the value (rows may hold personal data): `snippet` does, which the CLI
 * shows with --debug-values only.
 */
export class ColumnValueError extends WalduckError {
  override readonly name = 'ColumnValueError';
  readonly code = 'WALDUCK_VALUE';
  readonly phase = 'apply';
  readonly snippet: string;
  /** The message already says what the user can do. */
  readonly advised: boolean;
  constructor(
    readonly column: number,
    message: string,
    options?: { cause?: unknown; snippet?: string; advised?: boolean },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.snippet = options?.snippet ?? '';
    this.advised = options?.advised ?? false;
  }
}

/** What to do about a NaN or ±Infinity in a numeric(p,s) column, said in the line that stops. */
export const NON_FINITE_ADVICE =
  "DuckDB's DECIMAL has no NaN or ±Infinity and walduck never stores another value: run with --numeric exact (the column becomes VARCHAR holding PostgreSQL's text from that value on), declare the column plain numeric, or fix the row on the source";
