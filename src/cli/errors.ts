// Every failure ends as one line on stderr and exit code 1; usage errors as one line and exit 2.
import { oneLine } from './log.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Row data in errors (the bytes around a malformed value) is shown only with --debug-values: stderr
 * ends up in logs that are kept and shared, and rows may hold personal data.
 */
let showValues = false;
export function setDebugValues(on: boolean): void {
  showValues = on;
}

/** The row data an error (or one it wraps) holds aside from its message, when --debug-values asks. */
function valuesOf(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const snippet = (e as Error & { snippet?: unknown }).snippet;
    if (typeof snippet === 'string' && snippet !== '') return snippet;
  }
  return '';
}

/** "walduck: <phase> failed: <message> [SQLSTATE]" from any of our typed errors, or a plain one. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return `walduck: ${oneLine(String(err))}`;
  const e = err as Error & { phase?: unknown; sqlstate?: unknown };
  const phase = typeof e.phase === 'string' ? `${e.phase} failed: ` : '';
  const state =
    typeof e.sqlstate === 'string' && !e.message.includes(e.sqlstate) ? ` (SQLSTATE ${e.sqlstate})` : '';
  const values = showValues ? valuesOf(err) : '';
  const shown = values ? ` [value: ${oneLine(values)}]` : '';
  return `walduck: ${phase}${oneLine(e.message)}${state}${shown}`;
}

export function fail(err: unknown): never {
  process.stderr.write(`${describeError(err)}\n`);
  if (process.env.WALDUCK_STACK && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
}
