// The sink's side of RENAME TABLE / SET SCHEMA at the source (source/partitions.ts finds them, and
// where in the stream): applying one in the open DuckDB transaction, taking the renames the router has
// due, and a change under the old name inside the transaction of a swap, which may be either table's.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { Recopy, Rename } from '../source/routing.js';
import type { Delete, Insert, TableRef, Update } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import type { SinkOptions } from './sink-options.js';
import { keyOf, type SinkHost, type Table, tableKey } from './sink-table.js';
import { duckFold, duckFoldSql, quoteLiteral } from './sql.js';
import { ambiguousRename, copyingRefusal, renameDuckTable } from './table-rename.js';
import { ensureTarget, landingKey, refuseCollisions, type TargetTable } from './target.js';

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
    const due: { t: Table; to: TableRef }[] = [];
    for (const r of this.opts.router?.takeRenames(lsn) ?? []) {
      const t = this.h.tables.get(tableKey(r.from.schema, r.from.table));
      if (t) due.push({ t, to: r.to });
    }
    if (due.length > 0) await this.renameSet(due, lsn);
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
    const xid = this.txnXid;
    if (xid === undefined) throw ambiguousRename(r.from, r.to, 'walduck cannot copy it online here');
    const problem = await this.copyProblem(r.to);
    if (problem !== undefined) throw ambiguousRename(r.from, r.to, problem);
    this.opts.router?.committed(xid);
    await this.take(lastCommit);
    await this.recopy(
      {
        root: r.to,
        why: `renamed from ${shownName(r.from)} in a transaction whose changes under that name may be another table's (it took the name)`,
      },
      change.lsn,
    );
    // The change may as well be the table that took the name (the other one of a swap): when walduck
    // follows it, it is copied again too, or a change of it made after the renames would be lost; when
    // it cannot be copied, the same line as for the renamed one (the open DuckDB transaction, holding
    // the renames, is not committed).
    if (this.h.tables.has(tableKey(r.from.schema, r.from.table))) {
      const takerProblem = await this.copyProblem(r.from);
      if (takerProblem !== undefined) throw ambiguousRename(r.from, r.to, takerProblem, r.from);
      await this.recopy(
        {
          root: r.from,
          why: `took the name of ${shownName(r.from)}, renamed to ${shownName(r.to)}, in a transaction whose changes under that name may be either table's`,
        },
        change.lsn,
      );
    }
    return true;
  }

  /** Why the source's table under `ref` cannot be copied online now, if it cannot. */
  private async copyProblem(ref: TableRef): Promise<string | undefined> {
    if (!this.opts.keyCompare) return 'walduck cannot copy it online here';
    const now = await this.opts.readSource?.(ref).catch(() => undefined);
    return now ? now.copyProblem : 'walduck cannot read the table from the source now';
  }

  /** One table's RENAME TABLE / SET SCHEMA at the source (see renameSet). */
  async rename(t: Table, to: TableRef, lsn: Lsn): Promise<Table> {
    const [built] = await this.renameSet([{ t, to }], lsn);
    if (!built)
      throw new InternalError('apply', `rename of ${shownName(t.applier.target.source)} applied nothing`);
    return built;
  }

  /**
   * RENAME TABLE / SET SCHEMA at the source, at this point of the stream, of one table or of several
   * at once (the renames due at one commit): in the open DuckDB transaction, the staged rows go to each
   * table under its old name, then the DuckDB tables, their recorded schemas (walduck.columns) and
   * their table-set entries take the new names, committed with the changes that follow. One line each.
   * Renames whose targets are names of others in the set (a swap: a to b and b to a) cannot be applied
   * one by one, as the first target is still taken: those tables go through temporary names first.
   */
  async renameSet(set: readonly { t: Table; to: TableRef }[], lsn: Lsn): Promise<Table[]> {
    const h = this.h;
    for (const { t, to } of set) {
      const old = t.applier.target.source;
      if (this.copying(keyOf(t))) throw copyingRefusal({ schema: old.schema, table: old.table }, to);
    }
    await h.begin();
    for (const { t } of set) await h.flushTable(t);
    h.keepCommitted();
    const moving = new Set(set.map(({ t }) => t));
    const targets = set.map(({ t, to }) => {
      const old = t.applier.target;
      return h.describe({ ...old.source, schema: to.schema, table: to.table });
    });
    refuseCollisions([
      ...[...h.tables.values()].filter((x) => !moving.has(x)).map((x) => x.applier.target),
      ...targets,
    ]);
    const steps = set.map(({ t, to }, i) => ({
      t,
      to,
      key: keyOf(t),
      old: t.applier.target,
      touched: h.touched.has(keyOf(t)),
      // Another of the set lands where this table is now.
      via: targets.some((x, j) => j !== i && landing(x) === landing(t.applier.target)),
    }));
    // First every table whose name another of the set takes moves out of the way, under a name no
    // source table has (its recorded schema too: walduck.columns is keyed by source name).
    const moved: { from: TargetTable; watch: Table['watch']; touched: boolean }[] = [];
    for (const [i, s] of steps.entries()) {
      if (!s.via) {
        moved.push({ from: s.old, watch: s.t.watch, touched: s.touched });
        continue;
      }
      const tmp = { schema: s.old.source.schema, table: await swapName(h.conn, s.old, i, targets) };
      const watch = await s.t.watch?.renamed(h.conn, tmp);
      const target = h.describe(watch?.source ?? { ...s.old.source, ...tmp });
      const how = await renameDuckTable(h.conn, s.old, target, s.touched);
      moved.push({ from: target, watch, touched: s.touched || how === 'rebuilt' });
    }
    const built: Table[] = [];
    for (const [i, s] of steps.entries()) {
      const m = moved[i];
      if (!m) continue;
      const watch = await m.watch?.renamed(h.conn, s.to);
      const target = h.describe(watch?.source ?? { ...s.old.source, schema: s.to.schema, table: s.to.table });
      const how = await renameDuckTable(h.conn, m.from, target, m.touched);
      built.push(await h.build(await ensureTarget(h.conn, target), watch));
      this.opts.warn(
        `${shownName(s.old.source)}: RENAME TABLE to ${shownName(s.to)} applied at LSN ${formatLsn(lsn)} (DuckDB table ${shownName(s.old)} is now ${shownName(target)}${how === 'rebuilt' || m.touched !== s.touched ? ', rebuilt' : ''})`,
      );
    }
    for (const s of steps) {
      h.tables.delete(s.key);
      h.touched.delete(s.key);
    }
    for (const [i, s] of steps.entries()) {
      const b = built[i];
      if (!b) continue;
      h.tables.set(keyOf(b), b);
      if (s.touched) h.touched.add(keyOf(b));
    }
    this.opts.onTablesRenamed?.(
      steps.map((s) => ({ from: { schema: s.old.source.schema, table: s.old.source.table }, to: s.to })),
      lsn,
    );
    return built;
  }
}

/**
 * A temporary name for `t` during a swap that no DuckDB table has in its schema, nor a table of the set
 * is renamed to: a followed table may be named `<table>__walduck_swap_<i>` itself (the swap was
 * refused as a rename onto a table walduck does not follow).
 */
async function swapName(
  conn: DuckDBConnection,
  t: TargetTable,
  i: number,
  targets: readonly TargetTable[],
): Promise<string> {
  const taken = await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE table_catalog = ${quoteLiteral(t.catalog)} AND ${duckFoldSql('table_schema')} = ${quoteLiteral(duckFold(t.schema))}`,
  );
  // Nor a name the set renames a table to.
  const used = new Set([
    ...taken.getRows().map((r) => landingKey(t.schema, String(r[0]))),
    ...targets.map(landing),
  ]);
  for (let n = 0; ; n++) {
    const name = `${t.source.table}__walduck_swap_${i}${n === 0 ? '' : `_${n}`}`;
    if (!used.has(landingKey(t.schema, name))) return name;
  }
}

/** Where a DuckDB table lands, as DuckDB compares names (case-insensitively). */
function landing(t: TargetTable): string {
  return landingKey(t.schema, t.table);
}
