// Every failure ends as one line on stderr and exit code 1; usage errors as one line and exit 2.
import { PgServerError, WalduckError } from '../protocol/index.js';
import { oneLine } from './log.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line itself is wrong: nothing was attempted. */
export class UsageError extends WalduckError {
  override readonly name = 'UsageError';
  readonly code = 'WALDUCK_USAGE';
  readonly phase = 'usage';
}

/** "walduck: <phase> failed: <message> [SQLSTATE]" from any of our errors, or the message of another. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return `walduck: ${oneLine(String(err))}`;
  if (err instanceof UsageError) return `walduck: ${oneLine(err.message)}`;
  const phase = err instanceof WalduckError ? `${err.phase} failed: ` : '';
  const state =
    err instanceof PgServerError && !err.message.includes(err.sqlstate) ? ` (SQLSTATE ${err.sqlstate})` : '';
  return `walduck: ${phase}${oneLine(err.message)}${state}`;
}

export function fail(err: unknown): never {
  process.stderr.write(`${describeError(err)}\n`);
  if (process.env.WALDUCK_STACK && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
}
