// Errors of the replicator itself (not the server's, not the protocol's): which phase failed and what
// to do. Every one is meant to be printed as one line.

import { WalduckError } from '../protocol/errors.js';

export type ReplicatePhase =
  | 'config'
  | 'preflight'
  | 'slot'
  | 'duckdb'
  | 'snapshot'
  | 'stream'
  | 'decode'
  | 'apply';

export class ReplicateError extends WalduckError {
  override readonly name = 'ReplicateError';
  constructor(
    readonly phase: ReplicatePhase,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
