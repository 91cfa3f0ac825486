// Which of the sink's tables a change or TRUNCATE under a name it does not hold belongs to, as the
// router (source/routing.ts) places it: a leaf partition's root, a followed table renamed at this
// point of the stream, or a table that joins while streaming (created in the open DuckDB transaction
// with its first rows, forgotten if that rolls back); and a TRUNCATE of leaves, which empties the
// root only when all of them are named. Apart from duckdb-sink.ts because the per-change fast path
// (applyNow) never comes here: it finds a table held under the change's name by one map lookup.

import { InternalError } from '../protocol/errors.js';
import type { Lsn } from '../protocol/lsn.js';
import type { SourceTable } from '../source/catalog.js';
import type { Delete, Insert, TableRef, Update } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { LeafOrder } from './leaf-order.js';
import { SchemaWatch } from './schema-follow.js';
import type { SinkCopies } from './sink-copies.js';
import type { SinkOptions } from './sink-options.js';
import type { SinkRenames } from './sink-renames.js';
import { keyOf, type SinkHost, type Table, tableKey } from './sink-table.js';
import { ensureTarget, heldRows, refuseCollisions, TargetError } from './target.js';

export class SinkRouting {
  /** Tables added while streaming, inside the open DuckDB transaction (forgotten on rollback). */
  private readonly addedInTx: string[] = [];
  private readonly leafOrder: LeafOrder | undefined;

  constructor(
    private readonly h: SinkHost,
    private readonly opts: SinkOptions,
    private readonly renames: SinkRenames,
    private readonly copies: SinkCopies,
  ) {
    const catalog = opts.schema?.catalog;
    this.leafOrder = catalog ? new LeafOrder(catalog) : undefined;
  }

  /** A change resolved to `t`: from a leaf partition, its columns in the root's order (leaf-order.ts). */
  ordered<C extends Insert | Update | Delete>(t: Table, change: C): C | Promise<C> {
    const w = t.watch;
    const policy = this.opts.schema;
    if (!this.leafOrder || !w || !policy) return change;
    const src = t.applier.target.source;
    if (src.schema === change.schema && src.table === change.table) return change;
    const leaf = this.opts.router?.leaf(change);
    if (!leaf) return change;
    return this.leafOrder.inRootOrder(change, leaf, w.rec, policy) as C | Promise<C>;
  }

  /**
   * The table a change of `ref` at commit `lsn` belongs to, or undefined when it is not followed.
   * Takes the router's due re-copies on the way (after a rename it places).
   */
  async resolve(ref: TableRef, lsn: Lsn): Promise<Table | undefined> {
    const h = this.h;
    const t = h.tables.get(tableKey(ref.schema, ref.table));
    const router = this.opts.router;
    if (t) {
      const oid = t.applier.target.source.oid;
      if (router?.renamesPending && oid !== undefined) router.changeUnderOwnName?.(oid);
      return t;
    }
    if (!router) {
      this.opts.log(`change for unchosen table ${shownName(ref)} ignored`);
      return undefined;
    }
    const r = await router.route(ref);
    if (r.kind === 'table') {
      const found = h.tables.get(tableKey(r.ref.schema, r.ref.table));
      // A followed table under a name this sink does not know: renamed at this point of the stream.
      const was =
        found || r.oid === undefined
          ? undefined
          : [...h.tables.values()].find((t) => t.applier.target.source.oid === r.oid);
      if (!found && r.oid !== undefined && !was)
        throw new InternalError('apply', `change of ${shownName(ref)} routed to a table not open`);
      // Renamed before the router's re-copies are taken: one decided with the rename (its renaming
      // transaction hidden) names the table by its new name, which recopy() looks up (taken first, it
      // found no such table and was dropped, silently).
      const t = was ? await this.renames.rename(was, r.ref, lsn) : found;
      await this.copies.take(lsn);
      return t;
    }
    await this.copies.take(lsn);
    if (r.kind === 'ignore') return undefined;
    // Created in the DuckDB transaction that applies its first rows: both or neither.
    await h.begin();
    this.addedInTx.push(tableKey(r.table.schema, r.table.table));
    const added = await this.addTable(r.table);
    this.opts.onTableAdded?.(r.table);
    // A table that joins after being skipped is re-copied (Recopies.gainedKey): taken above, before
    // it was open, that re-copy waited for the next transaction, and this one's changes reached the
    // empty DuckDB table (an UPDATE or DELETE matched none: a false 'no longer equals' warning).
    await this.copies.take(lsn);
    return added;
  }

  /** A table that joins while streaming (a new table, a partitioned root seen first through a leaf). */
  private async addTable(source: SourceTable): Promise<Table> {
    const h = this.h;
    // Its own name's table was dropped at the source (its record stopped), this one created since:
    // created after the stream's start, it has all its rows in WAL from its creation on, so the
    // dropped table's rows and recorded schema give way to it, here in the transaction that applies
    // its first rows (a rollback brings them back, and the replay decides again).
    const replaces = this.opts.replacesDropped?.(source) === true;
    let watch = this.opts.schema
      ? await SchemaWatch.open(h.conn, source, this.opts.schema, this.opts.warn)
      : undefined;
    if (replaces && watch) watch = await watch.recopied(h.conn, source);
    const target = h.describe(watch?.source ?? source);
    refuseCollisions([...[...h.tables.values()].map((t) => t.applier.target), target]);
    const kept = this.opts.collision?.(source);
    if (kept !== undefined) throw new TargetError(kept);
    if (replaces) {
      await h.conn.run(`DROP TABLE IF EXISTS ${target.name}`);
      this.opts.warn(
        `table ${shownName(source)} was created again at the source: its DuckDB table, which held the rows of the ${shownName(source)} dropped earlier (state stopped), now follows the new table, whose rows are all in WAL from its creation on`,
      );
    }
    // New at the source, so its DuckDB table holds no rows of its own: rows there are another's (made
    // by hand, another slot's), and its changes were applied among them, exit 0.
    const held = await heldRows(h.conn, target.catalog, target.schema, target.table);
    if (held !== undefined)
      throw new TargetError(
        `table ${shownName(source)} was created at the source, but its DuckDB table ${held} already holds rows walduck did not write for it (made by hand, or another slot's; DuckDB names are case-insensitive): drop or rename that DuckDB table, or leave ${shownName(source)} out with --tables, then start walduck again`,
      );
    const t = await h.build(await ensureTarget(h.conn, target), watch);
    h.tables.set(tableKey(source.schema, source.table), t);
    return t;
  }

  /** TRUNCATE of `tables` (in one source statement), at commit `lsn`, in the open DuckDB transaction. */
  async truncate(tables: readonly TableRef[], lsn: Lsn): Promise<void> {
    const h = this.h;
    // A leaf partition's TRUNCATE empties only its share of the root: all leaves of a root named
    // together (TRUNCATE of the partitioned table) empty the root, fewer delete the leaves' rows.
    const named = new Set(tables.map((r) => tableKey(r.schema, r.table)));
    const done = new Set<Table>();
    for (const ref of tables) {
      const t = await this.resolve(ref, lsn);
      if (!t || done.has(t)) continue;
      await h.begin();
      // Staged changes came before the TRUNCATE: apply them first, then empty the table.
      h.unstage(t);
      await t.applier.flush(t.stage);
      const leaf = this.opts.router?.leaf(ref);
      const whole =
        !leaf || this.opts.router?.leavesOf(leaf.root).every((l) => named.has(tableKey(l.schema, l.table)));
      const copy = this.copies.get(keyOf(t))?.merge;
      if (whole) {
        done.add(t);
        await t.applier.truncate();
        copy?.truncate();
      } else {
        await t.applier.truncatePart(leaf);
        copy?.discard();
      }
      h.touched.add(keyOf(t));
    }
  }

  /** The open DuckDB transaction committed: the tables it added are the sink's for good. */
  committed(): void {
    this.addedInTx.length = 0;
  }

  /**
   * The open DuckDB transaction rolled back: the tables it added are forgotten (after the sink put
   * back the tables it had at the last commit).
   */
  rolledBack(): void {
    for (const k of this.addedInTx) this.h.tables.delete(k);
    this.addedInTx.length = 0;
  }
}
