// The table router's catalog check (partitions.ts). RENAME TABLE, SET SCHEMA and DROP TABLE write
// no change to WAL, and a new table skipped in this run may be replicable later, so the catalog is
// looked at by oid about once a second (maybeRefresh, with the partition leaves) and before each
// DuckDB commit (renameNews): a followed table renamed, dropped, or dropped and created again under
// its name (re-copied online), a skipped table that can join. The renames it found are applied once
// the stream passes their place (takeRenames). Its state is the router's (followed-tables.ts).

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import type { SourceTable } from './catalog.js';
import { FollowedTables } from './followed-tables.js';
import { PartitionError } from './leaf.js';
import { oidOf } from './rename-catalog.js';
import { placedByXid } from './renames.js';
import type { Rename } from './routing.js';
import { readSourceTables } from './source-tables.js';

export class CatalogCheck extends FollowedTables {
  private lastRefresh = performance.now();

  async renameNews(): Promise<boolean> {
    await this.startCheck();
    if (this.chosen.size > 0) await this.catalog.untilVisible();
    await this.checkTables();
    return this.renames.arm();
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

  /**
   * The tables a check released (skipped in this run, replicable now) since the last call: the sink
   * looks each up at a commit boundary, as a change of it would (lookup), so that a table with no
   * further change joins too. A rollback gives them back, to be joined again.
   */
  takeJoins(): TableRef[] {
    const out = this.skippedNew.takeDue();
    if (out.length > 0) this.undo.push(() => this.skippedNew.giveBack(out));
    return out;
  }

  /** Whether a skipped table may join (a quiet stream's tick then looks at the catalog). */
  joinsWaiting(): boolean {
    return this.skippedNew.pending;
  }

  /**
   * A table skipped earlier (created in this run, by the start, or detached) that can be replicated
   * now: its next change looks it up again, as the sink does at its next commit (takeJoins). Part of
   * every catalog check, and alone on a quiet stream's tick (at most once a second: skipped-new.ts).
   */
  async checkSkipped(): Promise<void> {
    for (const k of await this.skippedNew.check()) this.ignored.delete(k);
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
  protected async checkTables(): Promise<void> {
    await this.checkSkipped();
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
