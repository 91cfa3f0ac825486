// The sink's side of RENAME TABLE / SET SCHEMA at the source (source/partitions.ts finds them, and
// where in the stream): applying one in the open DuckDB transaction, taking the renames the router has
// due, and a change under the old name inside the transaction of a swap, which may be either table's.

import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { Recopy, Rename } from '../source/routing.js';
import type { Delete, Insert, TableRef, Update } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import type { SinkOptions } from './sink-options.js';
import { keyOf, type SinkHost, type Table, tableKey } from './sink-table.js';
import { ambiguousRename, copyingRefusal, renameDuckTable } from './table-rename.js';
import { ensureTarget, refuseCollisions } from './target.js';

export class SinkRenames {
  /** In the source transaction that renamed these tables (by old name), whose old name is taken since. */
  private renaming = new Map<string, Rename>();
  private txnXid: number | undefined;

  constructor(
    private readonly h: SinkHost,
    private readonly opts: SinkOptions,
    /** Whether the table of this key is being copied online (a rename of it is refused). */
    private readonly copying: (key: string) => boolean,
    /** Records a re-copy in the open DuckDB transaction; false when no such table is open. */
    private readonly recopy: (r: Recopy, lsn: Lsn) => Promise<boolean>,
  ) {}

  /** Inside a source transaction that renamed a table whose old name another table took since. */
  get inRenaming(): boolean {
    return this.renaming.size > 0;
  }

  /** A source transaction begins: the router learns which, and tells the renames it made. */
  began(xid: number | undefined): void {
    this.txnXid = xid;
    this.opts.router?.began(xid);
    this.renaming = new Map(
      (xid === undefined ? [] : (this.opts.router?.renamedIn(xid) ?? [])).map((r) => [
        tableKey(r.from.schema, r.from.table),
        r,
      ]),
    );
  }

  /** The source transaction committed. */
  ended(): void {
    this.renaming.clear();
  }

  /**
   * Renames the router found in the catalog whose old name the stream (at commit `lsn`) can no longer
   * show: applied now, in the open DuckDB transaction (source/renames.ts). A rollback needs nothing
   * kept here: the router takes them back and gives them again where the replay reaches them.
   */
  async take(lsn: Lsn): Promise<void> {
    for (const r of this.opts.router?.takeRenames(lsn) ?? []) {
      const t = this.h.tables.get(tableKey(r.from.schema, r.from.table));
      if (t) await this.rename(t, r.to, lsn);
    }
  }

  /**
   * A change under the old name of a table the current source transaction renamed, whose old name
   * another table has taken since: it is the renamed table's (before the ALTER) or the other one's
   * (after it), which the stream does not tell. The rename is applied here and the table copied again
   * online (the copy reads the renamed table as it is; until its first chunk its changes are
   * dropped, this one with them). Returns true: the change is not applied. `lastCommit`: the commit
   * LSN of the source transaction before this one.
   */
  async ambiguous(change: Insert | Update | Delete, lastCommit: Lsn): Promise<boolean> {
    const r = this.renaming.get(tableKey(change.schema, change.table));
    if (!r) return false;
    this.renaming.delete(tableKey(change.schema, change.table));
    const now = await this.opts.readSource?.(r.to).catch(() => undefined);
    const problem = now ? now.copyProblem : 'walduck cannot read the table from the source now';
    if (problem !== undefined || !this.opts.keyCompare || this.txnXid === undefined)
      throw ambiguousRename(r.from, r.to, problem ?? 'walduck cannot copy it online here');
    this.opts.router?.committed(this.txnXid);
    await this.take(lastCommit);
    await this.recopy(
      {
        root: r.to,
        why: `renamed from ${shownName(r.from)} in a transaction whose changes under that name may be another table's (it took the name)`,
      },
      change.lsn,
    );
    return true;
  }

  /**
   * RENAME TABLE / SET SCHEMA at the source, at this point of the stream: in the open DuckDB
   * transaction, the staged rows go to the table under its old name, then the DuckDB table, its
   * recorded schema (walduck.columns) and its table-set entry take the new name, committed with the
   * changes that follow. One line says it.
   */
  async rename(t: Table, to: TableRef, lsn: Lsn): Promise<Table> {
    const h = this.h;
    const key = keyOf(t);
    const old = t.applier.target;
    const from = { schema: old.source.schema, table: old.source.table };
    if (this.copying(key)) throw copyingRefusal(from, to);
    await h.begin();
    await h.flushTable(t);
    h.keepCommitted();
    const watch = await t.watch?.renamed(h.conn, to);
    const target = h.describe(watch?.source ?? { ...old.source, schema: to.schema, table: to.table });
    refuseCollisions([...[...h.tables.values()].filter((x) => x !== t).map((x) => x.applier.target), target]);
    const how = await renameDuckTable(h.conn, old, target, h.touched.has(key));
    const built = await h.build(await ensureTarget(h.conn, target), watch);
    h.tables.delete(key);
    h.tables.set(keyOf(built), built);
    if (h.touched.delete(key)) h.touched.add(keyOf(built));
    this.opts.onTableRenamed?.(from, to, lsn);
    this.opts.warn(
      `${shownName(from)}: RENAME TABLE to ${shownName(to)} applied at LSN ${formatLsn(lsn)} (DuckDB table ${shownName(old)} is now ${shownName(target)}${how === 'rebuilt' ? ', rebuilt' : ''})`,
    );
    return built;
  }
}
