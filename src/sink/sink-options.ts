// What DuckDbSink (duckdb-sink.ts) is opened with and what it counts: the options are the sink's
// contract with the replicator (its hooks run inside the sink's open DuckDB transaction), read by the
// sink's collaborators too (sink-copies.ts, sink-renames.ts, sink-reshape.ts). Apart from the sink so
// that they read the contract, not the class. Re-exported by duckdb-sink.ts and src/sink/index.ts.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { Lsn } from '../protocol/lsn.js';
import type { SourceTable } from '../source/catalog.js';
import type { Router } from '../source/routing.js';
import type { TableRef } from '../wal2json/change.js';
import type { MoneyLocale } from './money-locale.js';
import type { SchemaPolicy } from './schema-follow.js';
import type { NumericMode } from './type-map.js';
import type { KeyCompare } from './watermark-merge.js';

export interface SinkOptions {
  readonly slot: string;
  readonly batchChanges: number;
  readonly batchMs: number;
  readonly log: (msg: string) => void;
  readonly warn: (msg: string) => void;
  readonly meta?: { systemId?: string; database?: string };
  readonly now?: () => number;
  /** Follow source schema changes (recorded in walduck.columns); absent: the shape is fixed at open. */
  readonly schema?: SchemaPolicy;
  /** How unconstrained numeric is stored (type-map.ts); DOUBLE by default. */
  readonly numeric?: NumericMode;
  /**
   * The source database's money (lc_monetary and its fraction digits): a money column is refused
   * when they are not the 2 walduck reads (money-locale.ts). Absent: not checked.
   */
  readonly money?: MoneyLocale;
  /** Finds the table for a name not in the set (leaf partitions, tables created while running). */
  readonly router?: Router;
  /** Told inside the open DuckDB transaction when a table joins the set while streaming. */
  readonly onTableAdded?: (table: SourceTable) => void;
  /** Why a table joining while streaming cannot land in its DuckDB table (one kept, not followed). */
  readonly collision?: (table: TableRef) => string | undefined;
  /**
   * Whether a table joining while streaming takes the place of its own name's dropped table (record
   * stopped): its DuckDB table, holding the dropped one's rows, is then replaced by the new table's.
   */
  readonly replacesDropped?: (table: TableRef) => boolean;
  /**
   * Told inside the open DuckDB transaction that applies source RENAME TABLE / SET SCHEMAs, the ones
   * applied together as one set (a swap).
   */
  readonly onTablesRenamed?: (renames: readonly { from: TableRef; to: TableRef }[], lsn: Lsn) => void;
  /**
   * DuckDB's memory_limit as the file was opened with it (--duckdb-memory-limit): a COMMIT that needs
   * more at once raises the limit for itself and sets this again after (commit-window.ts).
   */
  readonly memoryLimit?: string;
  /** Runs inside every DuckDB transaction just before COMMIT, after the state row is written. */
  readonly beforeCommit?: (conn: DuckDBConnection) => Promise<void>;
  /**
   * The order an online copy reads a table in (source/key-order.ts), for the copies recorded in
   * walduck.copies; without it a file with a copy in progress is refused.
   */
  readonly keyCompare?: (source: SourceTable) => KeyCompare;
  /** Told inside the open DuckDB transaction that writes an online copy's last chunk. */
  readonly onCopied?: (table: TableRef) => void;
  /** Told inside the open DuckDB transaction that records a re-copy decided while streaming. */
  readonly onRecopy?: (table: TableRef) => void;
  /**
   * The table as the source catalog describes it now, and why it cannot be copied online (or
   * undefined): for --on-type-change recopy; without it such a change stops.
   */
  readonly readSource?: (t: TableRef) => Promise<{ table: SourceTable; copyProblem: string | undefined }>;
}

export interface SinkStats {
  /** Row changes (insert, update, delete) of followed tables taken, committed or not. */
  changes: number;
  transactions: number;
  commits: number;
  /** UPDATE/DELETE rows that matched no row (or several) in DuckDB: the replica had diverged. */
  unmatched: number;
}
