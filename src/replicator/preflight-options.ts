// What the preflight (preflight.ts) is given and what it returns: the options of a start, the early
// stream it may resume on, and Prepared, all the loop needs to start. Kept apart because both halves
// of the preflight read them (prepare, the first session's checks and sink; preflight-slot.ts, the
// slot decision of every session), and the run (replicate.ts, session-start.ts) holds Prepared.

import type { IdentifySystemResult } from '../protocol/index.js';
import type { Lsn } from '../protocol/lsn.js';
import type { OnDropColumn, OnTypeChange } from '../sink/schema-follow.js';
import type { ChangeSink } from '../sink/sink.js';
import type { NumericMode } from '../sink/type-map.js';
import type { SnapshotDisplay } from '../snapshot/progress.js';
import type { SourceTable } from '../source/catalog.js';
import type { Slot } from '../source/slot.js';
import type { TableRef } from '../wal2json/change.js';
import type { SinkFactory } from './replicate-options.js';
import type { SnapshotMode } from './slot.js';
import type { SourceCatalog } from './source-catalog.js';
import type { Routing } from './table-routing.js';

export interface PreflightOptions {
  readonly duckdb: string;
  /** A caller's sink instead of DuckDB (no snapshot, no stored table set). */
  readonly sink?: SinkFactory | undefined;
  readonly tables?: readonly TableRef[] | undefined;
  readonly slot?: string | undefined;
  readonly batchChanges: number;
  readonly batchMs: number;
  /** DuckDB's memory_limit the file was opened with (the sink restores it after a raised COMMIT). */
  readonly duckdbMemoryLimit?: string | undefined;
  readonly numeric?: NumericMode | undefined;
  readonly onDropColumn?: OnDropColumn | undefined;
  readonly onTypeChange?: OnTypeChange | undefined;
  readonly dropRemoved?: boolean | undefined;
  readonly snapshot?: SnapshotMode | undefined;
  readonly snapshotJobs?: number | undefined;
  /** How the initial copy shows its progress (the CLI picks terminal or log). */
  readonly snapshotProgress?: SnapshotDisplay | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly log: (msg: string) => void;
  readonly sinkLog?: ((msg: string) => void) | undefined;
  readonly warn: (msg: string) => void;
  /** Terminate a walsender still holding the slot (a stale consumer) instead of waiting for it. */
  readonly takeover?: boolean | undefined;
  /**
   * A stream started before the preflight (early-start.ts): the slot as read before it started, where
   * it starts, and how to give it up. Kept only to resume at exactly that position.
   */
  readonly early?: EarlyStream | undefined;
}

export interface EarlyStream {
  readonly slot: Slot;
  readonly from: Lsn;
  /** Closes the early stream's connection; the slot is free once its walsender has exited. */
  abandon(): Promise<void>;
}

export interface Prepared {
  readonly sink: ChangeSink;
  readonly slot: string;
  readonly tables: readonly SourceTable[];
  /**
   * The oids of tables that can be replicated but that the start skipped, for they cannot land in
   * DuckDB (sink/landing-problem.ts): the snapshot's look for tables created meanwhile passes them.
   */
  readonly refused?: ReadonlySet<string>;
  /** wal2json's add-tables, or undefined: every table, filtered by the sink's table set (partitions). */
  readonly filter: readonly TableRef[] | undefined;
  readonly system: IdentifySystemResult;
  readonly startLsn: Lsn;
  /** The side connections (partition routing, schema catalog) that live as long as the run. */
  readonly routing: Routing;
  readonly catalog: SourceCatalog;
  /** The first session resumes on the early stream (PreflightOptions.early) instead of starting one. */
  readonly startedEarly?: boolean;
  close(): Promise<void>;
}
