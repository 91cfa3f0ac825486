// What the table router (partitions.ts) knows of the followed tables, shared by its routing and by
// its catalog check (catalog-check.ts): the tables by name with their oids, their leaves, the names
// found not ours, the renames the catalog shows, and how to take back what was followed since the
// last DuckDB commit (a rollback). Following a rename (renamed) is here, since both find renames:
// routing at a change under the new name, the catalog check once the stream passes the rename's place.
// The router is one chain of classes (FollowedTables <- CatalogCheck <- TableRouter) so that all
// stay one object's methods, called as the one class called them: the chain only says which file
// holds which method.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import type { QueryFn, SkippedTable, SourceTable } from './catalog.js';
import type { Leaf } from './leaf.js';
import { type LeafContext, PartitionLeaves } from './leaves.js';
import { Recopies } from './recopies.js';
import { CatalogRenames } from './rename-catalog.js';
import type { PendingRename, PendingRenames } from './renames.js';
import type { OpenBatch, Rename } from './routing.js';
import { SkippedNew } from './skipped-new.js';

export interface RouterOptions extends Pick<LeafContext, 'log' | 'onLeaf' | 'onLeafGone'> {
  /** All-tables mode: a table created while walduck runs joins the replica. */
  readonly allTables: boolean;
  /** Names (refKey) of every table the source had when the table set was read, replicated or not. */
  readonly existing: ReadonlySet<string>;
  readonly warn: (msg: string) => void;
  /** Told once when a replicated table's oid is gone from the source catalog (DROP TABLE). */
  readonly onTableGone?: (t: SourceTable) => void;
  /** Told when a replicated table's name is a new table (dropped and created again): `t` has its oid. */
  readonly onTableReplaced?: (t: SourceTable) => void;
  /**
   * Told when a table created while walduck runs (all-tables mode) is skipped, with its oid and why:
   * its changes are dropped from then on, so the table set records it (a start copies it online once
   * it can be replicated; by then the slot has passed rows it held).
   */
  readonly onTableSkipped?: (t: TableRef, oid: string, why: string) => void;
  /** Why a root cannot be copied online (source/key-order.ts), or undefined; absent: never. */
  readonly copyProblem?: (t: SourceTable) => string | undefined;
  /**
   * Why a table that can be replicated cannot land in the sink's store (sink/landing-problem.ts), or
   * undefined: a table created while walduck runs is then skipped as one without a key is, and joins
   * once the check finds the reason gone.
   */
  readonly refusal?: (t: SourceTable) => string | undefined;
  /** How often `maybeRefresh` re-reads the leaves (default 1000 ms). */
  readonly refreshMs?: number;
}

export class FollowedTables {
  protected readonly leaves: PartitionLeaves;
  /** Names whose changes were dropped as not ours: one of them turning up as a leaf later has missed rows. */
  protected readonly ignored = new Set<string>();
  /** Roots to re-copy, decided since the sink last took them. */
  protected readonly recopies: Recopies;
  /** Replicated tables found dropped at the source (refKey), said once. */
  protected readonly dropped = new Set<string>();
  /** New tables skipped in this run, looked at again by each catalog check (skipped-new.ts). */
  protected readonly skippedNew: SkippedNew;
  /** Names decided at start (all-tables mode); a name freed by a rename is no longer one. */
  protected readonly existing: Set<string>;
  /** The renames the catalog shows (rename-catalog.ts), and the pending ones among them. */
  protected readonly catalog: CatalogRenames;
  protected readonly renames: PendingRenames;
  /**
   * Every name (refKey) a table was followed under in this run. The sink may hold a table under one
   * of them when the router has moved on (a rollback takes its tables back to the last commit, before
   * a rename the router already followed), and checks its own tables before routing: such a name's
   * changes are never declared ignorable (see ignores).
   */
  protected readonly onceFollowed: Set<string>;
  /** The source transaction the sink is in (told by began, cleared by committed and rolledBack). */
  protected current: number | undefined;
  /**
   * How to take back each rename followed, and each new table joined, since the last DuckDB commit,
   * oldest first. A rollback (a cut connection, a read-again) takes the sink's tables back to that
   * commit, and the replay must find each rename at its place again: under the new name before it, a
   * change is not the renamed table's (a swap: the other table's), and the rename by its transaction
   * must wait for that transaction's commit in the replay, not be applied at its start.
   */
  protected readonly undo: (() => void)[] = [];

  constructor(
    protected readonly query: QueryFn,
    protected readonly chosen: Map<string, SourceTable>,
    leaves: readonly Leaf[],
    protected readonly o: RouterOptions,
  ) {
    this.existing = new Set(o.existing);
    this.onceFollowed = new Set(chosen.keys());
    this.catalog = new CatalogRenames(query, o.log);
    this.recopies = new Recopies(chosen, o.copyProblem);
    this.skippedNew = new SkippedNew(query, o.copyProblem, o.warn, o.log, o.refreshMs ?? 1000, o.refusal);
    this.leaves = new PartitionLeaves(leaves, {
      query,
      existing: this.existing,
      ignored: this.ignored,
      recopies: this.recopies,
      log: o.log,
      onLeaf: o.onLeaf,
      onLeafGone: o.onLeafGone,
      onDetached: (leaf, top, oid) => this.detached(leaf, top, oid),
    });
    this.renames = this.catalog.pending;
  }

  /**
   * Tables the start skipped for want of a row identity (all-tables mode), that may join while
   * streaming: looked at again by each catalog check, as a new table skipped is, and copied online
   * at their first change once they can be (the slot passed their rows).
   */
  skippedAtStart(tables: readonly SkippedTable[]): void {
    for (const t of tables) this.skippedNew.add({ schema: t.schema, table: t.table }, t.oid, 'start');
  }

  /**
   * A partition of a followed root was detached (all-tables mode): the table it is under now is one of
   * its own, whose rows came without WAL (the root is copied again without them), so its changes are
   * left out until it joins, copied online, at the next commit. Said once, in one line (its oid is
   * among the skipped ones from then on), and recorded as skipped, so that a start after a kill -9
   * copies it too: not taken for a table created since the recorded position (one created as a
   * partition in this run has an oid past the start's), whose rows the stream would bring.
   */
  private detached(leaf: Leaf, top: TableRef, oid: string): void {
    if (!this.o.allTables || this.skippedNew.has(oid)) return;
    const own = refKey(top) === refKey(leaf);
    const from = `detached from ${shownName(leaf.root)}`;
    this.o.warn(
      `partition ${shownName(leaf)} was ${own ? from : `${from} with ${shownName(top)}`}: ${shownName(top)} is a table of its own now, whose rows came without WAL; its changes are left out until it is copied online, within about a second (all-tables mode)`,
    );
    this.o.onTableSkipped?.(top, oid, `${from} while walduck ran (its rows came without WAL)`);
    // Looked at by the catalog check as a skipped table is: it joins at the next commit, copied online
    // (or, when it cannot be, stays skipped, said in one line, and the next start decides).
    this.skippedNew.add(top, oid, 'detached');
    this.skippedNew.under(top, refKey(leaf));
  }

  /** The followed table (not dropped) with this oid. */
  protected followed(oid: string): SourceTable | undefined {
    for (const [k, t] of this.chosen) if (t.oid === oid && !this.dropped.has(k)) return t;
    return undefined;
  }

  /**
   * Follows `was` under its new name `to` from now on (its leaves too). `pending`: the rename as the
   * catalog showed it, pending again if the batch rolls back.
   */
  protected renamed(
    was: SourceTable,
    to: TableRef,
    oid: string,
    pending: PendingRename | undefined = this.renames.of(oid),
    leaves: readonly string[] = this.leafKeysOf(refKey(was)),
  ): void {
    const from = refKey(was);
    const k = refKey(to);
    // In a set of renames (a swap), another table of the set may have taken the old name already.
    const vacated = this.chosen.get(from)?.oid === was.oid;
    const before = {
      chosen: this.chosen.get(k),
      existingFrom: this.existing.has(from),
      existingTo: this.existing.has(k),
      ignored: this.ignored.has(k),
      leaves: leaves.flatMap((key) => {
        const l = this.leaves.get(key);
        return l ? [[key, l] as const] : [];
      }),
    };
    this.undo.push(() => {
      this.chosen.delete(k);
      if (before.chosen) this.chosen.set(k, before.chosen);
      this.chosen.set(from, was);
      if (!before.existingTo) this.existing.delete(k);
      if (before.existingFrom) this.existing.add(from);
      if (before.ignored) this.ignored.add(k);
      for (const [key, l] of before.leaves) this.leaves.set(key, l);
      if (pending) this.renames.restore(pending);
    });
    if (vacated) {
      this.chosen.delete(from);
      this.existing.delete(from);
    }
    this.chosen.set(refKey(to), { ...was, schema: to.schema, table: to.table });
    this.onceFollowed.add(refKey(to));
    this.existing.add(refKey(to));
    this.ignored.delete(refKey(to));
    this.renames.drop(oid);
    for (const [key, l] of before.leaves)
      this.leaves.set(key, { ...l, root: { schema: to.schema, table: to.table } });
  }

  /** The keys of the leaves routed to the root of key `root`. */
  protected leafKeysOf(root: string): string[] {
    return [...this.leaves].filter(([, l]) => refKey(l.root) === root).map(([key]) => key);
  }

  useBatch(batch: OpenBatch, slot?: string): void {
    this.catalog.batch = batch;
    if (slot !== undefined) this.catalog.rewrites.slot(slot);
  }

  committed(xid: number): void {
    this.renames.committedXid(xid);
    this.catalog.rewrites.committed(xid);
    this.current = undefined;
  }

  rolledBack(): void {
    // The batch is read again: the renames followed in it are pending again, and its commits must be
    // seen again before a rename counts them as passed (or due).
    for (let u = this.undo.pop(); u; u = this.undo.pop()) u();
    this.renames.rolledBack();
    this.catalog.rewrites.rolledBack();
    this.current = undefined;
  }

  batchCommitted(): void {
    this.undo.length = 0;
    this.renames.settled();
    this.catalog.rewrites.settled();
  }

  began(xid: number | undefined): void {
    this.current = xid;
  }

  renamedIn(xid: number): Rename[] {
    return this.renames.reusedIn(xid).map((p) => ({ from: p.from, to: p.to, oid: p.oid }));
  }

  streamPassed(lsn: bigint): void {
    this.catalog.streamPassed(lsn);
  }

  holding(): boolean {
    return this.catalog.holding();
  }
}
