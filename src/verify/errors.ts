// Errors of verify itself: which phase failed and what to do, printed as one line.

import { WalduckError } from '../protocol/errors.js';

export type VerifyPhase = 'config' | 'preflight' | 'point' | 'catch-up' | 'duckdb' | 'compare';

export class VerifyError extends WalduckError {
  override readonly name = 'VerifyError';
  constructor(
    readonly phase: VerifyPhase,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
