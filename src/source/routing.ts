// How the sink finds the replicated table for a change whose name it does not know: a leaf partition
// (routed to its partitioned root) or, in all-tables mode, a table created while walduck runs. The
// catalog lookups behind it live in src/source/partitions.ts (and the files it names); the sink only needs this much.

import type { TableRef } from '../wal2json/change.js';
import type { SourceTable } from './catalog.js';

export type Route =
  /** `oid`: the source table's pg_class oid, by which the sink finds its table under an older name. */
  | { readonly kind: 'table'; readonly ref: TableRef; readonly oid?: string | undefined }
  | { readonly kind: 'new'; readonly table: SourceTable }
  | { readonly kind: 'ignore' };

export interface LeafInfo extends TableRef {
  readonly root: TableRef;
  /** Which of the root's rows live in this leaf, as a SQL condition (pg_get_partition_constraintdef). */
  readonly constraint: string | null;
  /** pg_class oid, when known: a table attached under a leaf's old name is another leaf. */
  readonly oid?: string;
}

/** A followed table renamed (or moved to another schema) at the source, to follow at a stream position. */
export interface Rename {
  readonly from: TableRef;
  readonly to: TableRef;
  readonly oid: string;
}

/** A replicated table whose rows changed without WAL (a partition attached with rows, detached, dropped). */
export interface Recopy {
  readonly root: TableRef;
  /** What happened, for the log line (e.g. "partition public.pt_b was detached"). */
  readonly why: string;
}

/** The source transactions the sink applied since its last DuckDB commit: the sink keeps them. */
export interface OpenBatch {
  /** Whether the stream committed `xid` in the open batch. */
  has(xid: number): boolean;
  /** All of them (none dropped: the sink closes a batch that holds too many). */
  readonly xids: Iterable<number>;
  readonly size: number;
}

export interface Router {
  /**
   * The sink's open batch, read by the router's catalog checks (the sink tells it once), and `slot`,
   * the replication slot the stream reads (the start's look for renames away and back needs it).
   */
  useBatch(batch: OpenBatch, slot?: string): void;
  route(ref: TableRef): Promise<Route>;
  /** Renames are pending: changeUnderOwnName must hear of changes under a followed table's own name. */
  readonly renamesPending?: boolean;
  /** A change of followed table `oid` under the name it has in DuckDB (renames.ts, tookOld). */
  changeUnderOwnName?(oid: string): void;
  /** The leaf partition named `ref`, when it is one routed to a replicated table. */
  leaf(ref: TableRef): LeafInfo | undefined;
  leavesOf(root: TableRef): readonly LeafInfo[];
  /** Re-reads what may have changed at the source (partitions attached, detached) when due. */
  maybeRefresh(): Promise<void>;
  /**
   * Tables skipped in this run that a catalog check found replicable since the last call: the sink
   * routes each as a change of it would (it joins, copied online), without waiting for one.
   */
  takeJoins?(): TableRef[];
  /** Whether a skipped table may still join: a quiet stream's tick looks at the catalog then. */
  joinsWaiting?(): boolean;
  /** Looks at the skipped tables alone (a quiet stream's tick): those replicable now are released. */
  checkSkipped?(): Promise<void>;
  /** The tables to re-copy found since the last call (the sink records them in its open transaction). */
  takeRecopies(): Recopy[];
  /**
   * Renames the catalog showed whose every change under the old name is before `lsn` (the commit LSN
   * the stream has passed): the sink applies them now, in its open transaction (see partitions.ts).
   */
  takeRenames(lsn: bigint): Rename[];
  /** The stream committed transaction `xid` (a rename it made is then due). */
  committed(xid: number): void;
  /**
   * The sink rolled its open batch back: what the router learnt of that batch's transactions is void,
   * and the renames it followed in it are pending again (the replay meets each at its place).
   */
  rolledBack(): void;
  /** The sink committed its open batch: what the router learnt of it holds from now on. */
  batchCommitted(): void;
  /**
   * The stream began source transaction `xid` (undefined: not known): a change under a name a
   * followed table is being renamed to is its own inside the renaming transaction (see partitions.ts).
   */
  began(xid: number | undefined): void;
  /**
   * Renames made by transaction `xid` whose old name another table took since: inside it, a change
   * under the old name may be either table's.
   */
  renamedIn(xid: number): Rename[];
  /**
   * Looks at the followed tables' names now (before a DuckDB commit). True when a rename whose old
   * name another table took is new: changes under that name in the open batch may be misattributed,
   * and the batch must be read again knowing it. The catalog is read only once every transaction of
   * the open batch (useBatch) is visible to it (see rename-catalog.ts).
   */
  renameNews(): Promise<boolean>;
  /** The stream passed WAL position `lsn` (a keepalive): may ask for the batch to be read again. */
  streamPassed?(lsn: bigint): void;
  /** No DuckDB commit may be made now (a rename's place is not settled yet; see rename-catalog.ts). */
  holding?(): boolean;
}
