// The root entry (`walduck`): `walduck replicate` as a function. The same preflight, slot decisions,
// exactly-once loop and errors as the command line, with defaults filled in, a caller's AbortSignal
// to stop cleanly, progress as callbacks, and optionally the caller's own sink instead of DuckDB.
// Only what this file exports is public; the layers have their own entries (walduck/protocol,
// walduck/wal2json, walduck/sink).

import type { TraceFn } from './protocol/index.js';
import type { ReplicateResult, ReplicateStatus, SinkFactory, StopAt } from './replicator/replicate.js';
import { replicate as run } from './replicator/replicate.js';
import type { SnapshotMode } from './replicator/slot.js';
import type { NumericMode } from './sink/type-map.js';
import { parseTableName } from './source/table-name.js';
import type { TableRef } from './wal2json/change.js';

// The errors a replication can end with: all extend WalduckError (a stable `code`, the `phase` that
// failed); the CLI prints the message as its one line.
export {
  AuthError,
  ConfigError,
  ConnectionError,
  PgServerError,
  ProtocolError,
  WalduckError,
  WalduckProtocolError,
} from './protocol/index.js';
export { ReplicateError, type ReplicatePhase } from './replicator/errors.js';
export type { LatencySummary } from './replicator/latency.js';
export type {
  ReplicateResult,
  ReplicateStatus,
  SinkContext,
  SinkFactory,
  StopAt,
} from './replicator/replicate.js';
export type { SnapshotMode } from './replicator/slot.js';
export { DuckFileError } from './sink/errors.js';
export type { ChangeSink } from './sink/sink.js';
export { TargetError } from './sink/target.js';
export type { NumericMode } from './sink/type-map.js';
export { SnapshotError } from './snapshot/copy.js';
// Reading the chosen tables' shape from the source, as replicate() does before opening a sink.
export type { QueryFn, Rows } from './source/catalog.js';
export { CatalogError } from './source/catalog.js';
export { SlotError } from './source/slot.js';
export { readSourceTables } from './source/source-tables.js';
export { parseTableName } from './source/table-name.js';
export { Wal2JsonError } from './wal2json/index.js';

export interface ReplicateOptions {
  /** libpq conninfo or postgres:// URL; PG* variables and ~/.pgpass fill the gaps (as --source). */
  readonly source?: string;
  /** The DuckDB file to keep equal to the source (as --duckdb); not needed with `sink`. */
  readonly duckdb?: string;
  /** Your own sink instead of DuckDB: called once the tables and slot are known. */
  readonly sink?: SinkFactory;
  /** "schema.table" strings or refs; default every table with a key or replica identity. */
  readonly tables?: readonly (string | TableRef)[];
  /** Replication slot (default walduck_<database>), created when missing. */
  readonly slot?: string;
  readonly formatVersion?: 1 | 2;
  readonly writeInChunks?: boolean;
  readonly batchChanges?: number;
  readonly batchMs?: number;
  /** When to stop besides the signal (default never). */
  readonly stopAt?: StopAt;
  readonly snapshot?: SnapshotMode;
  readonly snapshotJobs?: number;
  readonly duckdbMemoryLimit?: string;
  /** Unconstrained numeric columns in DuckDB: as --numeric (see the README's type table). */
  readonly numeric?: NumericMode;
  readonly feedbackIntervalMs?: number;
  /** Aborting it stops replication cleanly: complete transactions commit, the result says 'signal'. */
  readonly signal?: AbortSignal;
  /** Called after each message with the running figures. */
  readonly onProgress?: (progress: ReplicateStatus) => void;
  /** Debug-level notes (default: none). */
  readonly log?: (msg: string) => void;
  /** Warnings the CLI prints as `walduck: warning: …` (default: none). */
  readonly warn?: (msg: string) => void;
  /** Every protocol message, both directions, secrets redacted (as `walduck trace`). */
  readonly trace?: TraceFn;
}

/**
 * Runs until `stopAt` is reached or `signal` aborts, then resolves with the figures; rejects with the
 * error the CLI would print as its one line (ReplicateError, PgServerError, ConnectionError, …).
 */
export function replicate(o: ReplicateOptions): Promise<ReplicateResult> {
  const quiet = () => {};
  return run({
    source: o.source,
    duckdb: o.duckdb,
    sink: o.sink,
    tables: o.tables?.map((t) => (typeof t === 'string' ? parseTableName(t) : t)),
    slot: o.slot,
    formatVersion: o.formatVersion ?? 2,
    writeInChunks: o.writeInChunks ?? true,
    batchChanges: o.batchChanges ?? 100_000,
    batchMs: o.batchMs ?? 1000,
    stopAt: o.stopAt ?? { kind: 'never' },
    snapshot: o.snapshot ?? 'auto',
    snapshotJobs: o.snapshotJobs ?? 1,
    ...(o.duckdbMemoryLimit ? { duckdbMemoryLimit: o.duckdbMemoryLimit } : {}),
    ...(o.feedbackIntervalMs ? { statusIntervalMs: o.feedbackIntervalMs } : {}),
    ...(o.numeric ? { numeric: o.numeric } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.trace ? { trace: o.trace } : {}),
    log: o.log ?? quiet,
    warn: o.warn ?? quiet,
  });
}
