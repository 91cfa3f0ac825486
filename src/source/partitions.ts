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
// This file routes a change by its name; what the router knows of the followed tables is in
// followed-tables.ts, its look at the catalog (renames, drops, skipped tables) in catalog-check.ts.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { CatalogError, type SourceTable } from './catalog.js';
import { CatalogCheck } from './catalog-check.js';
import { type Leaf, PartitionError } from './leaf.js';
import { readLeaves, readNewTable } from './leaves.js';
import { quoteLiteral } from './quote.js';
import { oidOf, renamedInBetween } from './rename-catalog.js';
import { placedByXid } from './renames.js';
import type { Recopy, Route, Router } from './routing.js';

export type { RouterOptions } from './followed-tables.js';

export class TableRouter extends CatalogCheck implements Router {
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
      // was read: all its rows are in WAL from its creation on. Existing ones were decided at start,
      // but for one skipped then that a catalog check found replicable since (skipped-new.ts).
      const top = found ? found.root : ref;
      const tk = refKey(top);
      // A partition detached since the last refresh, and renamed (its changes come under a name no
      // leaf had): its rows came without WAL, so it is no new table. The refresh finds the DETACH
      // first (the root re-copied, the table recorded as detached: followed-tables.ts), and it joins
      // below copied online, as a skipped table renamed since joins.
      if (oid !== undefined && this.leaves.wasLeaf(oid) && !this.skippedNew.has(oid)) await this.refresh();
      if ((!this.existing.has(tk) || this.skippedNew.rejoins(top)) && !this.chosen.has(tk)) {
        const table = await this.newTable(top);
        if (table) {
          const k = refKey(top);
          this.chosen.set(k, table);
          this.onceFollowed.add(k);
          // Skipped earlier in this run (under this name or, renamed since, another), its rows went
          // past: copied online over the stream's changes.
          if (this.skippedNew.joins(table)) this.recopies.gainedKey(top, this.skippedNew.origin(table.oid));
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
      // (Only a skipped table's: one the start skipped is under `existing`.)
      this.skippedNew.under(top, k);
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
      // Replicable, but it cannot land in the sink's store: skipped as one without a key is (below).
      const refused = this.o.refusal?.(found.table);
      if (refused !== undefined) throw new CatalogError(refused, 'WALDUCK_CATALOG');
      for (const l of found.leaves) {
        this.leaves.set(refKey(l), l);
        this.o.onLeaf?.(l);
      }
      this.o.warn(
        this.skippedNew.joins(found.table)
          ? `${this.skippedNew.shown(ref, found.table.oid)} can be replicated now: joining it`
          : `new table ${shownName(ref)} at the source: replicating it from its first change`,
      );
      return found.table;
    } catch (err) {
      if (err instanceof PartitionError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      // (Gone again already: nothing of it is left to replicate, and a table created under its name
      // later is a new one.)
      const oid = await oidOf(this.query, ref);
      // One skipped earlier (by the start, a DETACH), released by a check, may have lost its key again
      // before it joined.
      const origin = this.skippedNew.origin(oid);
      const who = origin ? this.skippedNew.named(ref, oid) : `new table ${shownName(ref)}`;
      this.o.warn(
        `not replicating ${who}: ${why}; its changes are dropped (state skipped) until it can be replicated; then it is copied online (within about a second while walduck runs, or at the next start)`,
      );
      if (oid !== undefined) {
        this.o.onTableSkipped?.(ref, oid, why);
        this.skippedNew.add(ref, oid, origin);
      }
      return undefined;
    }
  }

  takeRecopies(): Recopy[] {
    return this.recopies.take();
  }
}
