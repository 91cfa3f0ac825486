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

/**
 * A NaN or ±Infinity element of a numeric(p,s)[] value: PostgreSQL allows it, a DECIMAL list cannot
 * hold it, and a list's element type cannot change value by value (--numeric exact keeps DECIMAL
 * elements). Thrown while the array text is rewritten, before DuckDB sees it: DuckDB's own refusal
 * named no column and blamed "one of N rows". The element goes to the snippet (--debug-values).
 */
export class NonFiniteElementError extends WalduckError {
  override readonly name = 'NonFiniteElementError';
  readonly code = 'WALDUCK_VALUE';
  readonly phase = 'apply';
  readonly advised = true;
  readonly snippet: string;
  constructor(listType: string, element: string) {
    super(
      `a NaN or ±Infinity element arrived for a ${listType} column; DuckDB's DECIMAL has no NaN or ±Infinity and walduck never stores another value (--numeric exact keeps a list's DECIMAL elements): declare the column plain numeric[] (a DOUBLE list, or PostgreSQL's text per element with --numeric exact), or fix the row on the source`,
    );
    this.snippet = element;
  }
}
