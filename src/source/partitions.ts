// Which replicated table a change belongs to, when the name wal2json prints is not one of them.
//
// wal2json names a change by the relation that stores the row: for a partitioned table that is a leaf
// partition, at any depth, never the partitioned table itself (what PostgreSQL's own publications
// call publish_via_partition_root = false). walduck replicates a partitioned table as ONE DuckDB table,
// so every leaf's changes are routed to the root. The leaves are read at start and whenever an unknown
// name arrives (a partition created or attached while walduck runs), and re-read about once a second
// to notice a DETACH, which moves rows out of the root without any change in WAL.
//
// Rows that join or leave a root without WAL (a table ATTACHed with rows, a partition DETACHed or
// DROPped) cannot be followed change by change: the root is re-copied online instead (takeRecopies;
// the sink records the decision in its open DuckDB transaction). From then on a detached leaf's
// changes are ignored and an attached one's are the root's; either way the copy's merge drops them
// until its first chunk, whose watermarks commit after the catalog showed the ATTACH or DETACH.
//
// In all-tables mode an unknown name may also be a table created at the source while walduck runs:
// every row it ever held went through WAL after its creation, so it is created in DuckDB and followed
// from its first change on, or, when it cannot be replicated, named in one warning and skipped: the
// table set records it as skipped, since rows it held went past (a start copies it online).
//
// RENAME TABLE and SET SCHEMA write no change of their own to WAL; wal2json names each change by the
// name the table had when it was written, so a followed table's changes switch names at the rename's
// place in the stream. The server sends every table's changes (no add-tables, which matches names and
// would hide the renamed table), and an unknown name is looked up by oid: a followed table's oid under
// a new name is the rename, followed from that change on (renames.ts).
// Beside it: leaves.ts (the leaves), recopies.ts (re-copies), rename-catalog.ts (renames' catalog reads).

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { type QueryFn, readSourceTables, type SourceTable } from './catalog.js';
import {
  type Leaf,
  type LeafContext,
  PartitionError,
  PartitionLeaves,
  readLeaves,
  readNewTable,
} from './leaves.js';
import { quoteLiteral } from './quote.js';
import { Recopies } from './recopies.js';
import { CatalogRenames, oidOf, renamedInBetween } from './rename-catalog.js';
import { type PendingRename, type PendingRenames, placedByXid } from './renames.js';
import type { OpenBatch, Recopy, Rename, Route, Router } from './routing.js';
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
  /** How often `maybeRefresh` re-reads the leaves (default 1000 ms). */
  readonly refreshMs?: number;
}

export class TableRouter implements Router {
  private readonly leaves: PartitionLeaves;
  /** Names whose changes were dropped as not ours: one of them turning up as a leaf later has missed rows. */
  private readonly ignored = new Set<string>();
  private lastRefresh = performance.now();
  /** Roots to re-copy, decided since the sink last took them. */
  private readonly recopies: Recopies;
  /** Replicated tables found dropped at the source (refKey), said once. */
  private readonly dropped = new Set<string>();
  /** New tables skipped in this run, looked at again by each catalog check (skipped-new.ts). */
  private readonly skippedNew: SkippedNew;
  /** Names decided at start (all-tables mode); a name freed by a rename is no longer one. */
  private readonly existing: Set<string>;
  /** The renames the catalog shows (rename-catalog.ts), and the pending ones among them. */
  private readonly catalog: CatalogRenames;
  private readonly renames: PendingRenames;
  /**
   * Every name (refKey) a table was followed under in this run. The sink may hold a table under one
   * of them when the router has moved on (a rollback takes its tables back to the last commit, before
   * a rename the router already followed), and checks its own tables before routing: such a name's
   * changes are never declared ignorable (see ignores).
   */
  private readonly onceFollowed: Set<string>;
  /** The source transaction the sink is in (told by began, cleared by committed and rolledBack). */
  private current: number | undefined;
  /**
   * How to take back each rename followed, and each new table joined, since the last DuckDB commit,
   * oldest first. A rollback (a cut connection, a read-again) takes the sink's tables back to that
   * commit, and the replay must find each rename at its place again: under the new name before it, a
   * change is not the renamed table's (a swap: the other table's), and the rename by its transaction
   * must wait for that transaction's commit in the replay, not be applied at its start.
   */
  private readonly undo: (() => void)[] = [];

  constructor(
    private readonly query: QueryFn,
    private readonly chosen: Map<string, SourceTable>,
    leaves: readonly Leaf[],
    private readonly o: RouterOptions,
  ) {
    this.existing = new Set(o.existing);
    this.onceFollowed = new Set(chosen.keys());
    this.catalog = new CatalogRenames(query, o.log);
    this.recopies = new Recopies(chosen, o.copyProblem);
    this.skippedNew = new SkippedNew(query, o.copyProblem, o.warn, o.log);
    this.leaves = new PartitionLeaves(leaves, {
      query,
      existing: this.existing,
      ignored: this.ignored,
      recopies: this.recopies,
      log: o.log,
      onLeaf: o.onLeaf,
      onLeafGone: o.onLeafGone,
    });
    this.renames = this.catalog.pending;
  }

  /**
   * Whether a row change of schema.table would be dropped now, unread, by route() and by the sink
   * whatever state it rolled back to: a name already found not ours (ignored) that no followed table
   * or leaf has, and no table was followed under in this run. Unknown names are not: they are looked
   * up (a rename is found that way). The answer holds until the next route() or refresh, which is why
   * the decoder asks it change by change, in step with the sink (DecoderOptions.skip).
   */
  ignores(schema: string, table: string): boolean {
    // Asked for every row change: with no name ignored (the usual case when the server filters by
    // table), no key is built (0.4 µs a change, 4% of walduck's CPU on 200k updates).
    if (this.ignored.size === 0) return false;
    const k = `${schema}\u0000${table}`;
    return (
      this.ignored.has(k) &&
      !this.onceFollowed.has(k) &&
      !this.chosen.has(k) &&
      !this.leaves.has(k) &&
      // A followed table is being renamed to this name: route() decides change by change.
      this.renames.placing(k) === undefined
    );
  }

  /** The leaves routed to `root`. */
  leavesOf(root: TableRef): Leaf[] {
    return this.leaves.of(root);
  }

  leaf(ref: TableRef): Leaf | undefined {
    return this.leaves.get(refKey(ref));
  }

  /**
   * The followed table a name is now (a leaf: its root), or undefined. `schema` undefined: whichever schema
   * (a server warning of wal2json's format-version 1 names the table alone).
   */
  owner(schema: string | undefined, table: string): TableRef | undefined {
    if (schema !== undefined) {
      const k = refKey({ schema, table });
      const t = this.chosen.get(k);
      if (t) return { schema: t.schema, table: t.table };
      return this.leaves.get(k)?.root;
    }
    for (const t of this.chosen.values()) if (t.table === table) return { schema: t.schema, table: t.table };
    for (const l of this.leaves.values()) if (l.table === table) return l.root;
    return undefined;
  }

  /** Where a change of `ref` goes. Cheap for known names; one catalog lookup for a new one. */
  async route(ref: TableRef): Promise<Route> {
    await this.startCheck();
    const k = refKey(ref);
    const chosen = this.chosen.get(k);
    if (chosen) {
      if (chosen.oid !== undefined) this.changeUnderOwnName(chosen.oid);
      return { kind: 'table', ref, oid: chosen.oid };
    }
    const leaf = this.leaves.get(k);
    if (leaf) return { kind: 'table', ref: leaf.root, oid: this.chosen.get(refKey(leaf.root))?.oid };
    if (this.ignored.has(k)) {
      // Another table's name, which a followed table is being renamed to: its changes are ours only
      // from the renaming transaction on (renames.ts).
      const p = this.renames.placing(k);
      if (!p || !this.renames.ours(p, this.current)) {
        if (p) this.renames.leftOut(p);
        return { kind: 'ignore' };
      }
    }
    return this.lookup(ref);
  }

  /** Whether a rename made while walduck was stopped is not placed yet (changeUnderOwnName has work). */
  get renamesPending(): boolean {
    return this.renames.size > 0;
  }

  /**
   * A change of followed table `oid` under the name it has in DuckDB. Renamed while walduck was
   * stopped, and another table has that name now, it is ours only if the renaming commit is still
   * ahead in the stream: applied, but held from DuckDB until that is settled (renames.ts, tookOld).
   */
  changeUnderOwnName(oid: string): void {
    const p = this.renames.oldNameUnsettled(oid, this.current);
    if (p) this.renames.tookOld(p);
  }

  private async lookup(ref: TableRef): Promise<Route> {
    const k = refKey(ref);
    const where = ` AND ln.nspname = ${quoteLiteral(ref.schema)} AND l.relname = ${quoteLiteral(ref.table)}`;
    const [found] = await readLeaves(this.query, undefined, where);
    if (found && this.chosen.has(refKey(found.root))) {
      await this.leaves.adopt(found);
      return { kind: 'table', ref: found.root, oid: this.chosen.get(refKey(found.root))?.oid };
    }
    // A followed table's oid under this name: it was renamed (or moved) at this point of the stream.
    const oid = found ? undefined : await oidOf(this.query, ref);
    const was = oid === undefined ? undefined : this.followed(oid);
    if (was && oid !== undefined) {
      // A name another table used in this stream, which this table is being renamed to: its changes
      // are ours only from the renaming transaction on (renames.ts). (A name used before this session
      // began cannot be told: the renaming transaction may lie before the position it started from.)
      const p = this.renames.of(oid);
      if (p && placedByXid(p) && !this.renames.ours(p, this.current)) {
        this.ignored.add(k);
        this.renames.leftOut(p);
        return { kind: 'ignore' };
      }
      const taken = (p !== undefined && placedByXid(p)) || this.ignored.has(k);
      const unplaced = await this.catalog.placeable(was, ref, oid);
      // Read before renamed() drops it: a known renaming transaction, either this one (the change is
      // inside it) or one ahead in the stream (the catalog showed the rename first, and this change
      // came before it).
      const xid = this.renames.of(oid)?.xid;
      this.renamed(was, ref, oid);
      // Some changes under the old name may have been the other table's: never leave that to a
      // warning. Re-copy the renamed table (it then equals the source again), or stop. So too when
      // the new name was another table's in this stream and this change is inside the renaming
      // transaction (or that transaction is unknown): the changes under it may be either table's.
      if (unplaced || taken)
        this.recopies.renameHidden(
          was,
          ref,
          taken,
          xid === undefined ? undefined : { xid, current: this.current },
        );
      return { kind: 'table', ref, oid };
    }
    // No relation has this name now. While a followed table's rename is still ahead in the stream, it
    // may be a name that table held in between (renamed twice, or renamed and dropped): its changes
    // cannot be told from another table's, so stop rather than drop them.
    // The catalog read now is at least as new as this change: a rename after it is seen.
    if (oid === undefined && !found) await this.checkTables();
    const ahead = oid === undefined && !found ? this.renames.any() : undefined;
    if (ahead) throw renamedInBetween(ref, ahead);
    if (oid === undefined && !found && this.heldInBetween(ref)) return { kind: 'ignore' };
    if (this.o.allTables) {
      // A table (or a partitioned table, through its first leaf's change) created after the table set
      // was read: all its rows are in WAL from its creation on. Existing ones were decided at start.
      const top = found ? found.root : ref;
      if (!this.existing.has(refKey(top)) && !this.chosen.has(refKey(top))) {
        const table = await this.newTable(top);
        if (table) {
          const k = refKey(top);
          this.chosen.set(k, table);
          this.onceFollowed.add(k);
          // Skipped earlier in this run (under this name or, renamed since, another), its rows went
          // past: copied online over the stream's changes.
          if (this.skippedNew.joins(table)) this.recopies.gainedKey(top);
          // The sink creates it in its open DuckDB transaction: a rollback takes it away there, and
          // the replay's first change must find it new again (its leaves too), not routed to it.
          const leaves = table.partitioned ? this.leavesOf(top).map(refKey) : [];
          this.undo.push(() => {
            this.chosen.delete(k);
            for (const l of leaves) this.leaves.delete(l);
          });
          return { kind: 'new', table };
        }
        this.skippedNew.under(top, k);
      }
    }
    this.ignored.add(k);
    this.o.log(`changes of ${shownName(ref)} are not replicated (not in the table set)`);
    return { kind: 'ignore' };
  }

  /**
   * A change under `ref`, a name no relation has now, while a followed table's last rename is ahead
   * in the stream (row-type-rewrites.ts): it may be that table's under a name it held in between
   * (renamed away and back), or a dropped table's. Such tables are copied again online, and the name's
   * changes left out (the copy reads the table as it is); a rollback takes both back.
   */
  private heldInBetween(ref: TableRef): boolean {
    const held = this.catalog.rewrites.pending().flatMap((oid) => this.followed(oid) ?? []);
    if (held.length === 0) return false;
    for (const t of held) this.recopies.heldInBetween(t, ref);
    const k = refKey(ref);
    this.ignored.add(k);
    this.undo.push(() => this.ignored.delete(k));
    return true;
  }

  private async newTable(ref: TableRef): Promise<SourceTable | undefined> {
    try {
      const found = await readNewTable(this.query, ref);
      if (!found) return undefined;
      for (const l of found.leaves) {
        this.leaves.set(refKey(l), l);
        this.o.onLeaf?.(l);
      }
      this.o.warn(
        this.skippedNew.joins(found.table)
          ? `new table ${shownName(ref)}, skipped earlier in this run, can be replicated now: joining it`
          : `new table ${shownName(ref)} at the source: replicating it from its first change`,
      );
      return found.table;
    } catch (err) {
      if (err instanceof PartitionError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      this.o.warn(
        `not replicating new table ${shownName(ref)}: ${why}; its changes are dropped (state skipped) until it can be replicated; then it is copied online (within about a second while walduck runs, or at the next start)`,
      );
      // (Gone again already: nothing of it is left to replicate, and a table created under its name
      // later is a new one.)
      const oid = await oidOf(this.query, ref);
      if (oid !== undefined) {
        this.o.onTableSkipped?.(ref, oid, why);
        this.skippedNew.add(ref, oid);
      }
      return undefined;
    }
  }

  takeRecopies(): Recopy[] {
    return this.recopies.take();
  }

  /** The followed table (not dropped) with this oid. */
  private followed(oid: string): SourceTable | undefined {
    for (const [k, t] of this.chosen) if (t.oid === oid && !this.dropped.has(k)) return t;
    return undefined;
  }

  /**
   * Follows `was` under its new name `to` from now on (its leaves too). `pending`: the rename as the
   * catalog showed it, pending again if the batch rolls back.
   */
  private renamed(
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
  private leafKeysOf(root: string): string[] {
    return [...this.leaves].filter(([, l]) => refKey(l.root) === root).map(([key]) => key);
  }

  useBatch(batch: OpenBatch, slot?: string): void {
    this.catalog.batch = batch;
    if (slot !== undefined) this.catalog.rewrites.slot(slot);
  }

  async renameNews(): Promise<boolean> {
    await this.startCheck();
    if (this.chosen.size > 0) await this.catalog.untilVisible();
    await this.checkTables();
    return this.renames.arm();
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

  takeRenames(lsn: bigint): Rename[] {
    this.streamPassed(lsn);
    const out: Rename[] = [];
    // Read as one set before any is applied: in a swap (a to b, b to a) the first one applied would
    // give b to the first table, and the second would no longer find its table under b.
    const due = this.renames.due(lsn).flatMap((p) => {
      const was = this.followed(p.oid);
      return was && refKey(was) !== refKey(p.to) ? [{ p, was, leaves: this.leafKeysOf(refKey(was)) }] : [];
    });
    for (const { p, was, leaves } of due) {
      this.renamed(was, p.to, p.oid, p, leaves);
      // Due by position, never placed by a transaction: changes under the old name since the rename
      // may be the other table's (as in lookup, never left to a warning).
      if ((p.reused || placedByXid(p)) && p.xid === undefined && !p.committed)
        this.recopies.renameHidden(was, p.to, !p.reused);
      out.push({ from: { schema: was.schema, table: was.table }, to: p.to, oid: p.oid });
    }
    return out;
  }

  streamPassed(lsn: bigint): void {
    this.catalog.streamPassed(lsn);
  }

  holding(): boolean {
    return this.catalog.holding();
  }

  /** Once, at start before streaming (openRouting; route and the checks call it too, a no-op then). */
  async startCheck(): Promise<void> {
    await this.catalog.atStart(this.chosen.values());
  }

  /** Re-reads the leaves when the last read is older than refreshMs. */
  async maybeRefresh(): Promise<void> {
    await this.startCheck();
    if (performance.now() - this.lastRefresh < (this.o.refreshMs ?? 1000)) return;
    await this.refresh();
  }

  /** New leaves are adopted; a leaf gone from its root (DETACH, DROP) re-copies the root. */
  async refresh(): Promise<void> {
    this.lastRefresh = performance.now();
    await this.checkTables();
    const roots = new Set([...this.chosen.values()].filter((t) => t.partitioned).map(refKey));
    if (roots.size === 0) return;
    await this.leaves.refresh(roots);
  }

  /**
   * RENAME TABLE, SET SCHEMA and DROP TABLE write no change to WAL, so they are also looked for here,
   * by oid (a rename keeps it). A followed oid under a new name is a rename the stream may not have
   * reached: it is applied at the table's first change under the new name or, for a table with no
   * change since, once the stream passes the WAL position read with the catalog (renames.ts).
   * A drop ends the table's changes: it is no longer followed (onTableGone), its DuckDB table left.
   */
  private async checkTables(): Promise<void> {
    // A new table skipped earlier that can be replicated now: its next change looks it up again.
    for (const k of await this.skippedNew.check()) this.ignored.delete(k);
    // A name found dropped earlier that is a table again: created after the drop was seen. Until now
    // its changes still went to the dropped table's DuckDB table.
    for (const k of [...this.dropped]) {
      const t = this.chosen.get(k);
      if (!t?.oid) continue;
      const now = await oidOf(this.query, t);
      if (now !== undefined && now !== t.oid && !this.followed(now))
        this.replaced(k, t, await this.replacement(t, now), true);
    }
    const byOid = new Map<string, SourceTable>();
    for (const [k, t] of this.chosen)
      if (t.oid && /^\d+$/.test(t.oid) && !this.dropped.has(k)) byOid.set(t.oid, t);
    if (byOid.size === 0) return;
    const gone = await this.catalog.check(byOid, (k) => this.ignored.has(k));
    for (const [oid, t] of byOid) {
      if (!gone.has(oid)) continue;
      if (this.renamedBeforeDrop(oid, t)) continue;
      this.renames.drop(oid);
      this.catalog.rewrites.forget(oid);
      // The name is a table again (not a followed one renamed onto it): dropped and created again.
      const now = await oidOf(this.query, t);
      if (now !== undefined && now !== oid && !this.followed(now)) {
        this.replaced(refKey(t), t, await this.replacement(t, now), false);
        continue;
      }
      this.dropped.add(refKey(t));
      this.o.warn(
        `table ${shownName(t)} was dropped at the source: its DuckDB table is left as it is and no longer followed (state stopped; --drop-removed drops it at the next start)`,
      );
      this.o.onTableGone?.(t);
    }
  }

  /**
   * Whether `t` (oid `oid`, gone from the catalog) was renamed before it was dropped: another followed
   * table is being renamed to `t`'s name ahead in the stream, so `t` had left it by then (a swap, then
   * `t` dropped under the name it took). Dropping it now, under its old name, would stop the wrong
   * name, and the other table's rename would land on it. Instead `t` follows its own rename (the one
   * the catalog showed, or, in a swap, to the name the other table leaves, placed with that rename)
   * and the drop is applied by the first check after it, under the name it then has.
   */
  private renamedBeforeDrop(oid: string, t: SourceTable): boolean {
    const k = refKey(t);
    const onto = this.renames.onto(k, oid).filter((p) => this.followed(p.oid));
    const [p] = onto;
    if (!p) return false;
    let own = this.renames.of(oid);
    if (!own) {
      // The name the other table leaves, when nothing else is renamed to it: the swap's other half.
      if (onto.length > 1 || this.renames.onto(refKey(p.from), oid).length > 0) return false;
      this.renames.alongside(oid, t, p.from, p);
      own = this.renames.of(oid);
    }
    // Each old name carried the other table's changes in the stream: both renames are placed exactly
    // by their transaction (renames.ts), or a change under `t`'s old name after the swap would be
    // applied to `t`.
    this.renames.oldNameTaken(oid);
    if (own && refKey(own.to) === refKey(p.from)) this.renames.oldNameTaken(p.oid);
    return true;
  }

  /**
   * The table under `t`'s name now (oid `now`), as the catalog describes it; the dropped one's
   * description with the new oid when it is gone again by now (the next check decides).
   */
  private async replacement(t: SourceTable, now: string): Promise<SourceTable> {
    let fresh: SourceTable | undefined;
    try {
      [fresh] = await readSourceTables(this.query, [t]);
    } catch (err) {
      throw new PartitionError(
        `table ${shownName(t)} was dropped and created again at the source (oid ${t.oid} -> ${now}), and the new one cannot be replicated: ${err instanceof Error ? err.message : String(err)}`,
        'WALDUCK_TABLE_REPLACED',
      );
    }
    return fresh?.oid === now ? fresh : { ...t, oid: now };
  }

  /**
   * `t`'s name holds a new table (oid `now`): its changes from here on are the new table's, but the
   * dropped one's rows are still in DuckDB, and WAL has no DROP to remove them: re-copied online
   * (recopies.ts). A rollback takes the decision back with the sink's transaction, and the next check
   * finds it again.
   */
  private replaced(k: string, t: SourceTable, fresh: SourceTable, wasDropped: boolean): void {
    const now = fresh.oid ?? '?';
    // The new table's own description (columns, key, partitioning): whether it can be copied online
    // is its own key's question, not the dropped table's.
    this.chosen.set(k, fresh);
    if (wasDropped) this.dropped.delete(k);
    this.undo.push(() => {
      this.chosen.set(k, t);
      if (wasDropped) this.dropped.add(k);
    });
    this.recopies.replaced(t, t.oid ?? '?', now);
    this.o.onTableReplaced?.(fresh);
    this.o.warn(
      `table ${shownName(t)} was dropped and created again at the source (oid ${t.oid} -> ${now}): re-copying it online over the dropped table's rows`,
    );
  }
}
