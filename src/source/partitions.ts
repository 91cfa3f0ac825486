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
// from its first change on, or, when it cannot be replicated, named in one warning and skipped.
//
// RENAME TABLE and SET SCHEMA write no change of their own to WAL; wal2json names each change by the
// name the table had when it was written, so a followed table's changes switch names at the rename's
// place in the stream. The server sends every table's changes (no add-tables, which matches names and
// would hide the renamed table), and an unknown name is looked up by oid: a followed table's oid under
// a new name is the rename, followed from that change on (renames.ts).

import { WalduckError } from '../protocol/errors.js';
import type { TableRef } from '../wal2json/change.js';
import { type QueryFn, readSourceTables, type SourceTable } from './catalog.js';
import { qualified, quoteLiteral } from './quote.js';
import { type PendingRename, PendingRenames, placedByXid, RENAMING_XID } from './renames.js';
import type { LeafInfo, OpenBatch, Recopy, Rename, Route, Router } from './routing.js';

export const refKey = (t: TableRef): string => `${t.schema}\u0000${t.table}`;
export const refName = (t: TableRef): string => `${t.schema}.${t.table}`;

export interface Leaf extends LeafInfo {
  readonly oid: string;
  /** The leaf's own replica identity logs a key (or the full row); the root's does not pass down. */
  readonly identityOk: boolean;
}

export class PartitionError extends WalduckError {
  override readonly name = 'PartitionError';
  readonly phase = 'apply';
  constructor(
    message: string,
    readonly code:
      | 'WALDUCK_PARTITION_DETACHED'
      | 'WALDUCK_PARTITION_ATTACHED'
      | 'WALDUCK_PARTITION_IDENTITY'
      | 'WALDUCK_TABLE_RENAMED'
      | 'WALDUCK_RENAME_REPLAY',
  ) {
    super(message);
  }
}

const LEAVES_SQL = `SELECT l.oid, ln.nspname, l.relname, rn.nspname, r.relname, pg_get_partition_constraintdef(l.oid),
    l.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = l.oid AND (i.indisprimary OR i.indisreplident))
  FROM pg_class l JOIN pg_namespace ln ON ln.oid = l.relnamespace
  JOIN pg_class r ON r.oid = pg_partition_root(l.oid) JOIN pg_namespace rn ON rn.oid = r.relnamespace
  WHERE l.relispartition AND l.relkind = 'r'`;

/** Leaf partitions (at any depth) of the given roots, or of every root when `roots` is undefined. */
export async function readLeaves(
  query: QueryFn,
  roots: ReadonlySet<string> | undefined,
  where = '',
): Promise<Leaf[]> {
  const out: Leaf[] = [];
  for (const r of await query(LEAVES_SQL + where)) {
    const root = { schema: r[3] ?? '', table: r[4] ?? '' };
    if (roots && !roots.has(refKey(root))) continue;
    out.push({
      oid: r[0] ?? '',
      schema: r[1] ?? '',
      table: r[2] ?? '',
      root,
      constraint: r[5] ?? null,
      identityOk: r[6] === 'f' || (r[6] !== 'n' && r[7] === 't'),
    });
  }
  return out;
}

/** Refuses a leaf whose WAL records would not say which row an UPDATE or DELETE touched. */
export function checkLeafIdentity(leaf: Leaf): void {
  if (leaf.identityOk) return;
  throw new PartitionError(
    `partition ${refName(leaf)} of ${refName(leaf.root)} has no primary key and no REPLICA IDENTITY FULL (or has NOTHING), so its updates and deletes are not logged with their key: give the partitioned table a primary key, or run ALTER TABLE ${refName(leaf)} REPLICA IDENTITY FULL`,
    'WALDUCK_PARTITION_IDENTITY',
  );
}

export interface RouterOptions {
  /** All-tables mode: a table created while walduck runs joins the replica. */
  readonly allTables: boolean;
  /** Names (refKey) of every table the source had when the table set was read, replicated or not. */
  readonly existing: ReadonlySet<string>;
  readonly warn: (msg: string) => void;
  readonly log: (msg: string) => void;
  /** Told when a partition joins a replicated root while streaming. */
  readonly onLeaf?: (leaf: Leaf) => void;
  /** Told when a partition leaves its root while streaming (DETACH, DROP). */
  readonly onLeafGone?: (leaf: Leaf) => void;
  /** Told once when a replicated table's oid is gone from the source catalog (DROP TABLE). */
  readonly onTableGone?: (t: SourceTable) => void;
  /** Why a root cannot be copied online (source/key-order.ts), or undefined; absent: never. */
  readonly copyProblem?: (t: SourceTable) => string | undefined;
  /** How often `maybeRefresh` re-reads the leaves (default 1000 ms). */
  readonly refreshMs?: number;
}

export class TableRouter implements Router {
  private readonly leaves = new Map<string, Leaf>();
  /** Names whose changes were dropped as not ours: one of them turning up as a leaf later has missed rows. */
  private readonly ignored = new Set<string>();
  private lastRefresh = performance.now();
  /** Roots to re-copy, by refKey, with what happened (joined when several things did). */
  private readonly recopies = new Map<string, Recopy>();
  /** Replicated tables found dropped at the source (refKey), said once. */
  private readonly dropped = new Set<string>();
  /** Names decided at start (all-tables mode); a name freed by a rename is no longer one. */
  private readonly existing: Set<string>;
  /** The sink's open batch (useBatch): the transactions the stream committed since its last commit. */
  private batch: OpenBatch | undefined;
  /** Renames the catalog shows and the stream has not reached yet. */
  private readonly renames = new PendingRenames((xid) => this.batch?.has(xid) ?? false);
  /** Each followed table's owner (pg_class.relowner) at the last catalog check under its name. */
  private readonly owners = new Map<string, string>();
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
    for (const l of leaves) this.leaves.set(refKey(l), l);
    this.existing = new Set(o.existing);
    this.onceFollowed = new Set(chosen.keys());
  }

  /**
   * Whether a row change of schema.table would be dropped now, unread, by route() and by the sink
   * whatever state it rolled back to: a name already found not ours (ignored) that no followed table
   * or leaf has, and no table was followed under in this run. Unknown names are not: they are looked
   * up (a rename is found that way). The answer holds until the next route() or refresh, which is why
   * the decoder asks it change by change, in step with the sink (DecoderOptions.skip).
   */
  ignores(schema: string, table: string): boolean {
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
    const k = refKey(root);
    return [...this.leaves.values()].filter((l) => refKey(l.root) === k);
  }

  leaf(ref: TableRef): Leaf | undefined {
    return this.leaves.get(refKey(ref));
  }

  /** Where a change of `ref` goes. Cheap for known names; one catalog lookup for a new one. */
  async route(ref: TableRef): Promise<Route> {
    await this.startCheck();
    const k = refKey(ref);
    const chosen = this.chosen.get(k);
    if (chosen) return { kind: 'table', ref, oid: chosen.oid };
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

  private async lookup(ref: TableRef): Promise<Route> {
    const k = refKey(ref);
    const where = ` AND ln.nspname = ${quoteLiteral(ref.schema)} AND l.relname = ${quoteLiteral(ref.table)}`;
    const [found] = await readLeaves(this.query, undefined, where);
    if (found && this.chosen.has(refKey(found.root))) {
      await this.adopt(found);
      return { kind: 'table', ref: found.root, oid: this.chosen.get(refKey(found.root))?.oid };
    }
    // A followed table's oid under this name: it was renamed (or moved) at this point of the stream.
    const oid = found ? undefined : await this.oidOf(ref);
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
      const unplaced = await this.placeable(was, ref, oid);
      this.renamed(was, ref, oid);
      // Some changes under the old name may have been the other table's: never leave that to a
      // warning. Re-copy the renamed table (it then equals the source again), or stop. So too when
      // the new name was another table's in this stream and this change is inside the renaming
      // transaction (or that transaction is unknown): the changes under it may be either table's.
      if (unplaced || taken) this.hidden(was, ref, taken);
      return { kind: 'table', ref, oid };
    }
    // No relation has this name now. While a followed table's rename is still ahead in the stream, it
    // may be a name that table held in between (renamed twice, or renamed and dropped): its changes
    // cannot be told from another table's, so stop rather than drop them.
    // The catalog read now is at least as new as this change: a rename after it is seen.
    if (oid === undefined && !found) await this.checkTables();
    const ahead = oid === undefined && !found ? this.renames.any() : undefined;
    if (ahead)
      throw new PartitionError(
        `changes of ${refName(ref)} cannot be followed: no table has that name now, and ${refName(ahead.from)} was renamed to ${refName(ahead.to)} at the source after them, so they may be its rows under a name it held in between (renamed more than once, or renamed and dropped, before walduck read them); to go on, run walduck resync --table ${refName(ahead.from)} (its recorded name) and start walduck again with ${refName(ahead.to)} instead of ${refName(ahead.from)} in --tables: ${refName(ahead.to)} is then copied online and ${refName(ahead.from)} left stopped in DuckDB (--drop-removed drops it)`,
        'WALDUCK_TABLE_RENAMED',
      );
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
          // The sink creates it in its open DuckDB transaction: a rollback takes it away there, and
          // the replay's first change must find it new again (its leaves too), not routed to it.
          const leaves = table.partitioned ? this.leavesOf(top).map(refKey) : [];
          this.undo.push(() => {
            this.chosen.delete(k);
            for (const l of leaves) this.leaves.delete(l);
          });
          return { kind: 'new', table };
        }
      }
    }
    this.ignored.add(k);
    this.o.log(`changes of ${refName(ref)} are not replicated (not in the table set)`);
    return { kind: 'ignore' };
  }

  private async newTable(ref: TableRef): Promise<SourceTable | undefined> {
    try {
      const [table] = await readSourceTables(this.query, [ref]);
      if (!table) return undefined;
      if (table.partitioned) {
        const leaves = await readLeaves(this.query, new Set([refKey(ref)]));
        leaves.forEach(checkLeafIdentity);
        for (const l of leaves) {
          this.leaves.set(refKey(l), l);
          this.o.onLeaf?.(l);
        }
      }
      this.o.warn(`new table ${refName(ref)} at the source: replicating it from its first change`);
      return table;
    } catch (err) {
      if (err instanceof PartitionError) throw err;
      this.o.warn(
        `not replicating new table ${refName(ref)}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return undefined;
    }
  }

  /**
   * A leaf walduck did not know. Created as a partition after the table set was read, every row it
   * holds went through WAL. Attached after existing on its own, the rows it held before the ATTACH
   * never appear in WAL as the root's: stop rather than leave the root short of them.
   */
  private async adopt(leaf: Leaf): Promise<void> {
    checkLeafIdentity(leaf);
    const k = refKey(leaf);
    if (this.existing.has(k) || this.ignored.has(k)) {
      const rows = await this.query(
        `SELECT EXISTS (SELECT 1 FROM ONLY ${qualified(leaf.schema, leaf.table)})`,
      );
      if (rows[0]?.[0] === 't') {
        this.recopy(
          leaf.root,
          `table ${refName(leaf)} was attached as a partition while holding rows (an ATTACH writes no WAL for them)`,
          `table ${refName(leaf)} was attached as a partition of ${refName(leaf.root)} while holding rows, and an ATTACH does not write those rows to WAL, so DuckDB's ${refName(leaf.root)} would miss them: re-copy ${refName(leaf.root)} (start a new DuckDB file), or attach tables empty and fill them afterwards`,
          'WALDUCK_PARTITION_ATTACHED',
        );
      }
    }
    this.ignored.delete(k);
    this.leaves.set(k, leaf);
    this.o.onLeaf?.(leaf);
    this.o.log(`partition ${refName(leaf)} routed to ${refName(leaf.root)}`);
  }

  takeRecopies(): Recopy[] {
    const out = [...this.recopies.values()];
    this.recopies.clear();
    return out;
  }

  /** Re-copies `to`, renamed from `was` at a place walduck could not find (or stops, see recopy). */
  private hidden(was: TableRef, to: TableRef, taken = false): void {
    if (taken) {
      this.recopy(
        to,
        `renamed from ${refName(was)} to a name another table used earlier in the stream, and changes under ${refName(to)} in the renaming transaction (or with that transaction unknown) may be either table's`,
        `table ${refName(was)} was renamed to ${refName(to)}, a name another table used earlier in the stream, and walduck cannot tell which changes under ${refName(to)} around the rename are whose: run walduck resync --table ${refName(to)} to copy it again`,
        'WALDUCK_TABLE_RENAMED',
      );
      return;
    }
    this.recopy(
      to,
      `renamed from ${refName(was)} while another table took that name, and the renaming transaction is hidden by a later DDL of the table, so changes under ${refName(was)} just before this point may be the other table's`,
      `table ${refName(was)} was renamed to ${refName(to)} and another table took the name ${refName(was)}, and walduck could not find the renaming transaction (a later DDL of the table hides it): changes under ${refName(was)} just before this point may be the other table's; run walduck resync --table ${refName(to)} to copy it again`,
      'WALDUCK_TABLE_RENAMED',
    );
  }

  /**
   * Rows of `root` came or went without WAL: re-copy it online, or, when it cannot be copied in key
   * chunks, stop with `refusal` (what happened and what to do) and the reason.
   */
  private recopy(root: TableRef, why: string, refusal: string, code: PartitionError['code']): void {
    const table = this.chosen.get(refKey(root));
    const problem = table ? this.o.copyProblem?.(table) : 'it is not in the table set';
    if (!this.o.copyProblem || problem !== undefined)
      throw new PartitionError(
        `${refusal}${problem ? ` (it cannot be re-copied online: ${problem})` : ''}`,
        code,
      );
    const k = refKey(root);
    const was = this.recopies.get(k);
    this.recopies.set(k, { root, why: was ? `${was.why}; ${why}` : why });
  }

  /** The oid of the table or partitioned table named `ref` now, if there is one. */
  private async oidOf(ref: TableRef, kinds = `'r', 'p'`): Promise<string | undefined> {
    const rows = await this.query(
      `SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${quoteLiteral(ref.schema)} AND c.relname = ${quoteLiteral(ref.table)} AND c.relkind IN (${kinds})`,
    );
    return rows[0]?.[0] ?? undefined;
  }

  /**
   * Before following a rename found through a change under the new name: when another table has taken
   * the old name, changes under it since the rename may be that table's, already applied to the
   * renamed one. Unless the rename was placed by its transaction (renames.ts), the open batch is read
   * again (a transient failure the replicator recovers from by reconnecting), this time knowing it.
   * True when even that could not place it (a later DDL of the table hid the renaming transaction).
   */
  private async placeable(was: SourceTable, to: TableRef, oid: string): Promise<boolean> {
    if ((await this.oidOf(was, `'r', 'p', 'v', 'm', 'f', 'S', 'i', 'I', 'c'`)) === undefined) return false;
    const [row] = await this.query(
      `SELECT ${RENAMING_XID}, pg_current_wal_lsn()::text, c.relowner::text FROM pg_class c WHERE c.oid = ${oid}`,
    );
    this.renames.saw(oid, was, to, row?.[1] ?? '', this.renamingXid(oid, row?.[0], row?.[2]), true);
    if (this.renames.arm())
      throw new PartitionError(
        `table ${refName(was)} was renamed to ${refName(to)} and another table took the name ${refName(was)}: reading the open batch again from the last commit, to place the rename exactly`,
        'WALDUCK_RENAME_REPLAY',
      );
    return true;
  }

  /**
   * RENAMING_XID as read now, or null when it cannot name the renaming transaction: the owner changed
   * since the last check under the old name, so an OWNER TO may have rewritten the row type after the
   * rename (the witnesses in RENAMING_XID miss a table with no index and no TOAST table whose new
   * owner is the bootstrap superuser). An OWNER TO before the rename costs a needless re-copy only.
   */
  private renamingXid(
    oid: string,
    xmin: string | null | undefined,
    owner: string | null | undefined,
  ): string | null {
    const before = this.owners.get(oid);
    return before !== undefined && owner != null && owner !== before ? null : (xmin ?? null);
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
  ): void {
    const from = refKey(was);
    const k = refKey(to);
    const before = {
      chosen: this.chosen.get(k),
      existingFrom: this.existing.has(from),
      existingTo: this.existing.has(k),
      ignored: this.ignored.has(k),
      leaves: [...this.leaves].filter(([, l]) => refKey(l.root) === from),
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
    this.chosen.delete(from);
    this.chosen.set(refKey(to), { ...was, schema: to.schema, table: to.table });
    this.onceFollowed.add(refKey(to));
    this.existing.delete(from);
    this.existing.add(refKey(to));
    this.ignored.delete(refKey(to));
    this.renames.drop(oid);
    for (const [k, l] of this.leaves)
      if (refKey(l.root) === from) this.leaves.set(k, { ...l, root: { schema: to.schema, table: to.table } });
  }

  useBatch(batch: OpenBatch): void {
    this.batch = batch;
  }

  async renameNews(): Promise<boolean> {
    await this.startCheck();
    if (this.batch && this.batch.size > 0 && this.chosen.size > 0) await this.untilVisible(this.batch.xids);
    await this.checkTables();
    return this.renames.arm();
  }

  /**
   * Waits until every transaction in `xids` is visible to a new catalog snapshot. The stream hands out
   * a transaction once its commit record is in the WAL, which is before the committing backend makes
   * it visible to other sessions: on a busy machine a catalog read right after it may not see its DDL
   * yet. A swap in such a transaction, unseen by the check before the DuckDB commit, would lie in a
   * committed batch unknown, and the new table's changes under the old name went to the renamed one.
   */
  private async untilVisible(xids: Iterable<number>): Promise<void> {
    for (let waited = 0; ; waited += VISIBLE_POLL_MS) {
      const [row] = await this.query('SELECT pg_current_snapshot()::text');
      const unseen = invisible(xids, row?.[0] ?? '');
      if (unseen === undefined) {
        if (waited > 0)
          this.o.log(`catalog check waited ${waited} ms for streamed transactions to become visible`);
        return;
      }
      if (waited >= VISIBLE_WAIT_MS)
        throw new PartitionError(
          `source transaction ${unseen}, already streamed, is still not visible to a catalog read after ${VISIBLE_WAIT_MS / 1000} s: the open batch is read again from the last commit`,
          'WALDUCK_RENAME_REPLAY',
        );
      await new Promise((r) => setTimeout(r, VISIBLE_POLL_MS));
    }
  }

  committed(xid: number): void {
    this.renames.committedXid(xid);
    this.current = undefined;
  }

  rolledBack(): void {
    // The batch is read again: the renames followed in it are pending again, and its commits must be
    // seen again before a rename counts them as passed (or due).
    for (let u = this.undo.pop(); u; u = this.undo.pop()) u();
    this.renames.rolledBack();
    this.current = undefined;
  }

  batchCommitted(): void {
    this.undo.length = 0;
    this.renames.settled();
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
    for (const p of this.renames.due(lsn)) {
      const was = this.followed(p.oid);
      if (!was || refKey(was) === refKey(p.to)) continue;
      this.renamed(was, p.to, p.oid, p);
      // Due by position, never placed by a transaction: changes under the old name since the rename
      // may be the other table's (as in lookup, never left to a warning).
      if ((p.reused || placedByXid(p)) && p.xid === undefined && !p.committed)
        this.hidden(was, p.to, !p.reused);
      out.push({ from: { schema: was.schema, table: was.table }, to: p.to, oid: p.oid });
    }
    return out;
  }

  /**
   * The stream has passed WAL position `lsn` (a commit at or after it, or a keepalive). A table renamed
   * while walduck was stopped whose renaming commit was not seen by then was renamed before the resume
   * position (renames.ts): the changes under its new name left out in the open batch were its own, and
   * the batch is read again from the last commit, knowing it.
   */
  streamPassed(lsn: bigint): void {
    const [p] = this.renames.reached(lsn);
    if (p)
      throw new PartitionError(
        `table ${refName(p.from)} was renamed to ${refName(p.to)} before the position walduck resumed from: reading the open batch again from the last commit, with its changes under ${refName(p.to)} as its own`,
        'WALDUCK_RENAME_REPLAY',
      );
  }

  /**
   * True while no DuckDB commit may be made: changes under the new name of a table renamed while
   * walduck was stopped were left out, and whose they were is not settled yet (renames.ts). Stops
   * rather than hold a batch of more than HOLD_MAX_XIDS source transactions open (bounded memory).
   */
  holding(): boolean {
    const p = this.renames.holding();
    if (!p) return false;
    if ((this.batch?.size ?? 0) > HOLD_MAX_XIDS)
      throw new PartitionError(
        `table ${refName(p.from)} was renamed to ${refName(p.to)} while walduck was stopped, and walduck cannot tell within ${HOLD_MAX_XIDS} source transactions whether the changes under ${refName(p.to)} are its own or those of a table that had the name before: run walduck resync --table ${refName(p.from)} (its recorded name), then start walduck with ${refName(p.to)} in --tables (it is copied online)`,
        'WALDUCK_TABLE_RENAMED',
      );
    return true;
  }

  /** Whether the start's look for tables renamed while walduck was stopped was made. */
  private startChecked = false;

  /**
   * Once, at start before streaming (openRouting; route and the checks call it too, a no-op then): the
   * followed tables renamed while walduck was stopped (followed under their recorded names, named
   * otherwise now) are placed by their renaming transaction, with the WAL insert position read after
   * the catalog (renames.ts, atStart). Made later, it would take a rename made while walduck streams
   * for one made while it was stopped.
   */
  async startCheck(): Promise<void> {
    if (this.startChecked) return;
    this.startChecked = true;
    const byOid = new Map<string, SourceTable>();
    for (const t of this.chosen.values()) if (t.oid && /^\d+$/.test(t.oid)) byOid.set(t.oid, t);
    if (byOid.size === 0) return;
    const rows = await this.query(
      `SELECT c.oid::int8, n.nspname, c.relname, ${RENAMING_XID}, pg_current_wal_insert_lsn()::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid IN (${[...byOid.keys()].join(', ')})`,
    );
    for (const r of rows) {
      const t = byOid.get(r[0] ?? '');
      const now = { schema: r[1] ?? '', table: r[2] ?? '' };
      if (!t || refKey(now) === refKey(t)) continue;
      // Another relation under the old name (a swap while stopped): placed by its transaction too.
      const reused = (await this.oidOf(t, `'r', 'p', 'v', 'm', 'f', 'S', 'i', 'I', 'c'`)) !== undefined;
      this.renames.sawAtStart(t.oid ?? '', t, now, r[4] ?? '', r[3] ?? null, reused);
      this.o.log(
        `table ${refName(t)} was renamed to ${refName(now)} while walduck was stopped: the rename is placed at its renaming transaction (xid ${r[3] ?? 'unknown'})`,
      );
    }
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
    const now = await readLeaves(this.query, roots);
    const seen = new Set(now.map(refKey));
    for (const [k, leaf] of this.leaves) {
      if (seen.has(k)) continue;
      const still = await this.query(
        `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${quoteLiteral(leaf.schema)} AND c.relname = ${quoteLiteral(leaf.table)}`,
      );
      // A DETACH or a DROP of a partition is not in WAL: its rows left the root silently.
      const what = still.length === 0 ? 'dropped' : 'detached';
      this.recopy(
        leaf.root,
        `partition ${refName(leaf)} was ${what} (its rows left without WAL)`,
        still.length === 0
          ? `partition ${refName(leaf)} of ${refName(leaf.root)} was dropped at the source; its rows left ${refName(leaf.root)} without a change in WAL, so DuckDB's ${refName(leaf.root)} still holds them: re-copy ${refName(leaf.root)} (start a new DuckDB file), or TRUNCATE a partition before dropping it`
          : `partition ${refName(leaf)} was detached from ${refName(leaf.root)} at the source; its rows left ${refName(leaf.root)} without a change in WAL, so DuckDB's ${refName(leaf.root)} still holds them: re-copy ${refName(leaf.root)} (start a new DuckDB file)`,
        'WALDUCK_PARTITION_DETACHED',
      );
      // Its changes from now on are not the root's (the copy's merge drops them until its first chunk).
      this.leaves.delete(k);
      this.ignored.add(k);
      this.o.onLeafGone?.(leaf);
    }
    for (const l of now) if (!this.leaves.has(refKey(l))) await this.adopt(l);
  }

  /**
   * RENAME TABLE, SET SCHEMA and DROP TABLE write no change to WAL, so they are also looked for here,
   * by oid (a rename keeps it). A followed oid under a new name is a rename the stream may not have
   * reached: it is applied at the table's first change under the new name or, for a table with no
   * change since, once the stream passes the WAL position read with the catalog (renames.ts).
   * A drop ends the table's changes: it is no longer followed (onTableGone), its DuckDB table left.
   */
  private async checkTables(): Promise<void> {
    const byOid = new Map<string, SourceTable>();
    for (const [k, t] of this.chosen)
      if (t.oid && /^\d+$/.test(t.oid) && !this.dropped.has(k)) byOid.set(t.oid, t);
    if (byOid.size === 0) return;
    // The WAL position is read after the catalog snapshot: a rename seen committed before it.
    const rows = await this.query(
      `SELECT c.oid::int8, n.nspname, c.relname, pg_current_wal_lsn()::text, ${RENAMING_XID}, c.relowner::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid IN (${[...byOid.keys()].join(', ')})`,
    );
    const seen = new Set<string>();
    for (const r of rows) {
      const oid = r[0] ?? '';
      const t = byOid.get(oid);
      if (!t) continue;
      seen.add(oid);
      const now = { schema: r[1] ?? '', table: r[2] ?? '' };
      if (refKey(now) === refKey(t)) {
        this.renames.drop(oid);
        if (r[5]) this.owners.set(oid, r[5]);
        continue;
      }
      // Another relation under the old name: the rename must be placed exactly (renames.ts). So too
      // when the new name carried another table's changes in this stream (the mirror).
      const reused = (await this.oidOf(t, `'r', 'p', 'v', 'm', 'f', 'S', 'i', 'I', 'c'`)) !== undefined;
      const taken = this.ignored.has(refKey(now));
      if (this.renames.saw(oid, t, now, r[3] ?? '', this.renamingXid(oid, r[4], r[5]), reused, taken))
        this.o.log(
          `table ${refName(t)} is named ${refName(now)} in the source catalog: the rename is followed where the stream reaches it`,
        );
    }
    for (const [oid, t] of byOid) {
      if (seen.has(oid)) continue;
      this.renames.drop(oid);
      this.dropped.add(refKey(t));
      this.o.warn(
        `table ${refName(t)} was dropped at the source: its DuckDB table is left as it is and no longer followed (state stopped; --drop-removed drops it at the next start)`,
      );
      this.o.onTableGone?.(t);
    }
  }
}

/** The most source transactions a batch is held open for (holding) before walduck stops. */
const HOLD_MAX_XIDS = 100_000;

/** How long renameNews waits for streamed transactions to become visible to the catalog, and how often it looks. */
const VISIBLE_WAIT_MS = 10_000;
const VISIBLE_POLL_MS = 5;

/**
 * The first of `xids` (32-bit, as wal2json gives them) not visible in `snapshot` (pg_current_snapshot()
 * as text, 'xmin:xmax:xip,…' in 64-bit xids), or undefined when all are. A streamed transaction has
 * committed, so it is visible unless it is at or past xmax or still listed as running.
 */
export function invisible(xids: Iterable<number>, snapshot: string): number | undefined {
  const [, xmaxText, xipText = ''] = snapshot.split(':');
  if (xmaxText === undefined || !/^\d+$/.test(xmaxText))
    throw new PartitionError(`unexpected snapshot ${snapshot}`, 'WALDUCK_RENAME_REPLAY');
  const low = (v: string) => Number(BigInt(v) & 0xffffffffn);
  const xmax = low(xmaxText);
  const running = new Set(xipText === '' ? [] : xipText.split(',').map(low));
  // 32-bit xids compare modulo 2^32, as PostgreSQL's TransactionIdPrecedes does.
  for (const x of xids) if (((x - xmax) | 0) >= 0 || running.has(x)) return x;
  return undefined;
}
