// The DuckDB file could not be opened or does not hold what walduck wrote. (The sink's other errors
// sit beside what raises them: StageError, TargetError, PgArrayError, QuoteError.)
import { WalduckError } from '../protocol/errors.js';

export class DuckFileError extends WalduckError {
  override readonly name = 'DuckFileError';
  readonly phase = 'duckdb';
  constructor(
    readonly code:
      | 'WALDUCK_DUCKDB_LOCKED'
      | 'WALDUCK_DUCKDB_OPEN'
      | 'WALDUCK_DUCKDB_NOT_REPLICA'
      | 'WALDUCK_DUCKDB_STATE'
      | 'WALDUCK_DUCKDB_COMMIT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
