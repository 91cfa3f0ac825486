// Errors of the replicator itself (not the server's, not the protocol's): which phase failed and what
// to do. Every one is meant to be printed as one line.

export type ReplicatePhase =
  | 'config'
  | 'preflight'
  | 'slot'
  | 'duckdb'
  | 'snapshot'
  | 'stream'
  | 'decode'
  | 'apply';

export class ReplicateError extends Error {
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
