// What replicate() (replicate.ts) is given and what it gives back: its options, a caller's sink
// factory and what it learns, the result, the progress figures and the connection events. Apart from
// replicate.ts so that the run's file holds the run; replicate.ts exports them as before.

import type { LogFn, TraceFn } from '../protocol/index.js';
import type { Lsn } from '../protocol/lsn.js';
import type { OnDropColumn, OnTypeChange } from '../sink/schema-follow.js';
import type { ChangeSink } from '../sink/sink.js';
import type { NumericMode } from '../sink/type-map.js';
import type { SnapshotDisplay } from '../snapshot/progress.js';
import type { SourceTable } from '../source/catalog.js';
import type { TableRef } from '../wal2json/change.js';
import type { LatencySummary } from './latency.js';
import type { LoopFigures, StopAt } from './loop.js';
import type { ConnectionEvent, SlotHealth } from './metrics.js';

export type { ConnectionEvent } from './metrics.js';

import type { SnapshotMode } from './slot.js';

/** Where replication stands: what the CLI's progress display shows. */
export type ReplicateStatus = LoopFigures;

/** What a caller's sink factory learns before streaming starts. */
export interface SinkContext {
  /** The chosen tables as the source catalog describes them (columns, types, key, replica identity). */
  readonly tables: readonly SourceTable[];
  readonly slot: string;
  readonly systemId: string;
  readonly database: string;
}

/** Opens the caller's sink; its `storedLsn` (0n: new) decides where the stream resumes. */
export type SinkFactory = (context: SinkContext) => Promise<ChangeSink>;

export interface ReplicateOptions {
  readonly source: string | undefined;
  /** The DuckDB file; unused (and may be omitted) when `sink` is given. */
  readonly duckdb?: string | undefined;
  /**
   * A caller's own sink instead of the DuckDB file. There is no initial snapshot then (the copy is
   * DuckDB-specific): the sink sees changes from the slot's creation on; snapshot 'force' is refused.
   */
  readonly sink?: SinkFactory | undefined;
  /** DuckDB's memory_limit: past it, DuckDB spills (staged rows of a huge transaction included). */
  readonly duckdbMemoryLimit?: string;
  /** DuckDB's threads (default: DEFAULT_THREADS, one). */
  readonly duckdbThreads?: number | undefined;
  /** Received-but-unapplied bytes above which the replication socket pauses (protocol's default if unset). */
  readonly socketBufferBytes?: number | undefined;
  readonly tables?: readonly TableRef[] | undefined;
  /** Drop the DuckDB table of a table no longer in the set (default: leave it, no longer followed). */
  readonly dropRemoved?: boolean;
  readonly slot?: string | undefined;
  readonly formatVersion: 1 | 2;
  readonly writeInChunks: boolean;
  /** Changes per DuckDB transaction (--batch-changes). */
  readonly batchChanges: number;
  readonly batchMs: number;
  /** Unconstrained numeric as DOUBLE (default) or exactly (sink/type-map.ts). */
  readonly numeric?: NumericMode;
  /** A column dropped on the source: kept in DuckDB (default) or dropped there too. */
  readonly onDropColumn?: OnDropColumn;
  /** A change DuckDB cannot follow in place: stop (default) or re-copy the table online. */
  readonly onTypeChange?: OnTypeChange;
  readonly stopAt: StopAt;
  /** The initial copy of existing rows (default auto: when walduck creates the slot). */
  readonly snapshot?: SnapshotMode;
  /** Connections copying at once under the same snapshot (default 1). */
  readonly snapshotJobs?: number;
  /** How the initial copy shows its progress; none when absent. */
  readonly snapshotProgress?: SnapshotDisplay;
  readonly signal?: AbortSignal;
  readonly log: LogFn;
  /** Each layer's own log (walduck:protocol, walduck:wal2json, walduck:sink); `log` where not given. */
  readonly logs?: { readonly protocol?: LogFn; readonly wal2json?: LogFn; readonly sink?: LogFn };
  readonly warn: (msg: string) => void;
  /** Worth a line although not a warning: the slot is out of danger again (default: `log`). */
  readonly notice?: (msg: string) => void;
  readonly trace?: TraceFn;
  readonly onProgress?: (p: LoopFigures) => void;
  /** Each connect and each failure (metrics and health). */
  readonly onConnection?: (e: ConnectionEvent) => void;
  /** How long transient failures are retried (default: forever when continuous, 30 s with a stop target). */
  readonly retryForMs?: number;
  /** pg_recvlogical's --status-interval (default 10 s; never more than a third of wal_sender_timeout). */
  readonly statusIntervalMs?: number;
  /** Terminate a stale walsender holding the slot instead of waiting for it. */
  readonly takeover?: boolean;
  /** How often the slot guard looks at the slot from a side connection (default 30 s; 0: never). */
  readonly slotGuardMs?: number;
  /** What the slot guard saw (retained WAL, wal_status, safe_wal_size). */
  readonly onSlot?: (h: SlotHealth) => void;
  /** Jitter source for the backoff (tests). */
  readonly random?: () => number;
  /** An online copy's chunk size: at most this many rows (default 20000) … */
  readonly copyChunkRows?: number;
  /** … and fewer while a chunk's text exceeds this many characters (default 16 MiB). */
  readonly copyChunkBytes?: number;
}

export interface ReplicateResult {
  readonly changes: number;
  readonly transactions: number;
  readonly bytes: number;
  readonly received: Lsn;
  readonly applied: Lsn;
  readonly serverEnd: Lsn;
  readonly slot: string;
  /** Source commit to DuckDB commit, per transaction (when wal2json sent commit timestamps). */
  readonly latency: LatencySummary | undefined;
  readonly startedAt: Lsn;
  readonly stoppedBy: 'endpos' | 'caught-up' | 'signal';
  /** UPDATE/DELETE rows DuckDB could not match one to one (each warned about): 0 for an equal replica. */
  readonly unmatched: number;
}
