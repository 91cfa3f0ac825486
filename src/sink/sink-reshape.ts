// A table whose DuckDB shape changes in the sink's open DuckDB transaction: a source schema change
// followed (schema-follow.ts), a numeric column widened for a value that does not fit it under
// --numeric exact (exact-widen.ts), and the table rebuilt for either. Apart from duckdb-sink.ts
// because the per-change fast path (applyNow) never comes here: it takes only changes of the shape
// last seen, of tables without a widening column; the async path's follow returns at once for those.

import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Delete, Insert, RowImage, Update } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import type { Need } from './exact-numeric.js';
import { type States, widenColumn } from './exact-widen.js';
import type { FillWindows } from './fill-window.js';
import { fillsFromSource, type Plan, SchemaChangeError, type Step, writesRows } from './schema-change.js';
import type { SchemaWatch } from './schema-follow.js';
import type { SinkCopies } from './sink-copies.js';
import type { SinkOptions } from './sink-options.js';
import { keyOf, type SinkHost, type Table } from './sink-table.js';
import { RenameReplay } from './table-rename.js';
import { ensureTarget, withExactStates } from './target.js';

export class SinkReshape {
  constructor(
    private readonly h: SinkHost,
    private readonly opts: SinkOptions,
    /** A table being copied online follows no schema change until its first chunk; one may re-copy. */
    private readonly copies: SinkCopies,
    /** Fills from the source whose read the stream has not passed yet (fill-window.ts). */
    private readonly fills: FillWindows,
  ) {}

  /**
   * Checks a change's columns against the table's recorded source schema; on a change, applies the
   * table's staged rows (they came before it), alters DuckDB and rewrites the record, all in the open
   * DuckDB transaction, and returns the table rebuilt for its new shape. Refusals throw.
   */
  async follow(t: Table, change: Insert | Update | Delete): Promise<Table> {
    const w = t.watch;
    if (!w) return t;
    const copy = this.copies.get(keyOf(t))?.merge;
    // Until the copy's first window every change of the table is dropped (a chunk reads its result):
    // its shape does not matter, and after a re-copy it may still be the old one.
    if (copy?.fresh) return t;
    let plan: Plan | undefined;
    try {
      plan = await w.check(change);
    } catch (err) {
      if (!(err instanceof SchemaChangeError)) throw err;
      // First: the table may have been renamed and its name taken by another table (a swap) in a
      // transaction the catalog check, about once a second, has not seen yet: this change is then the
      // other table's, which also explains "its columns changed and the table no longer exists" (the
      // renamed table dropped since). As before a DuckDB commit, a rename found so reads the batch
      // again, placing it; a re-copy decided here would be rolled back by that replay, its line said.
      if (await this.opts.router?.renameNews())
        throw new RenameReplay(
          `a change under ${shownName(change)} does not fit the table walduck follows under that name, which was renamed at the source and another table took the name: the open batch is read again from the last commit, placing the rename exactly`,
        );
      // A copy running starts over with the new schema (its chunks read the old columns).
      if (err.recopy) return (await this.copies.recopySchema(t, w, err.recopy)) ?? Promise.reject(err);
      throw err;
    }
    if (!plan) return t;
    // A copy past its first chunk with chunks still to read: those read the columns the copy began
    // with, so a change followed in place left an added column NULL in every row copied after it
    // (its DuckDB column filled for the rows copied before), and a dropped or renamed column failed
    // the copy's SELECT at every start. The copy starts over with the new schema instead.
    if (copy && !copy.progress.done && plan.steps.length > 0) {
      const what = `${plan.steps.map(stepName).join(', ')} during its online copy, whose chunks read the columns it began with`;
      const again = await this.copies.recopySchema(t, w, { what, lsn: change.lsn });
      if (again) return again;
    }
    const h = this.h;
    await h.begin();
    await h.flushTable(t);
    const key = keyOf(t);
    let next: SchemaWatch;
    try {
      next = await w.apply(h.conn, plan, change.lsn, h.touched.has(key));
    } catch (err) {
      // A refusal found while applying (a value read from the source that does not fit): the plan's
      // statements so far are in the open transaction, which the re-copy's DROP TABLE supersedes.
      if (err instanceof SchemaChangeError && err.recopy)
        return (await this.copies.recopySchema(t, w, err.recopy)) ?? Promise.reject(err);
      throw err;
    }
    // A column filled with a constant or from the source (an added one, timestamp -> timestamptz) is
    // an UPDATE of the table: a later ALTER in this DuckDB transaction must rebuild it (applyPlan).
    if (plan.steps.some(writesRows)) h.touched.add(key);
    await this.fillRead(plan);
    h.keepCommitted();
    // Read back from DuckDB: a numeric column widened under --numeric exact keeps its state.
    const built = await h.build(await ensureTarget(h.conn, h.describe(next.source)), next);
    h.tables.set(key, built);
    return built;
  }

  /** A plan's fills from the source: their columns are watched until the stream passes the read. */
  private async fillRead(plan: Plan): Promise<void> {
    const attnums = plan.steps.filter(fillsFromSource).map((s) => (s.kind === 'add' ? s.col : s.to).attnum);
    if (attnums.length === 0) return;
    const text = await this.opts.schema?.catalog?.walPosition();
    const until = text === undefined ? undefined : parseLsn(text);
    if (until === undefined)
      throw new InternalError(
        'apply',
        `no WAL position after a fill from the source (${text ?? 'no catalog'})`,
      );
    await this.fills.add(this.h.conn, plan.next.oid, attnums, until);
  }

  /**
   * An UPDATE that moves a row to another key without a column a fill read by key, while the stream
   * has not passed the read (fill-window.ts): the row's value is not known, so the table is copied
   * again online and the change left to the copy (until its first chunk the table's changes are
   * dropped). True: the change is not applied. `lastCommit`: the end LSN of the last source
   * transaction applied.
   */
  async movedPastFill(t: Table, change: Update, lastCommit: Lsn): Promise<boolean> {
    const rec = t.watch?.rec;
    const col = rec && this.fills.movedWithout(rec, change, lastCommit);
    if (!rec || col === undefined || this.copies.get(keyOf(t))?.merge.fresh) return false;
    const ref = { schema: t.applier.target.source.schema, table: t.applier.target.source.table };
    const why = `an UPDATE moved a row to another key without its value of ${col}, which walduck had read from the source by key for a schema change; the value read for the old key may be another row's`;
    const now = await this.opts.readSource?.(ref).catch(() => undefined);
    const problem = now ? now.copyProblem : 'walduck cannot read the table from the source now';
    if (problem !== undefined || !this.opts.keyCompare)
      throw new SchemaChangeError(
        `${shownName(ref)} at LSN ${formatLsn(change.lsn)}: ${why}, and it cannot be copied online (${problem ?? 'no key order'}); replication stopped before that transaction (nothing after it acknowledged): replicate ${shownName(ref)} into a new DuckDB file, or leave it out of --tables`,
      );
    await this.h.begin();
    await this.fills.drop(this.h.conn, rec.oid);
    if (!(await this.copies.recopy({ root: ref, why }, change.lsn)))
      throw new InternalError('apply', `re-copy of ${shownName(ref)}, which is not open`);
    return true;
  }

  /**
   * --numeric exact: widens, in the open DuckDB transaction, every numeric column a value of these
   * images does not fit (exact-numeric.ts), before the change is staged. Returns the table as it is then.
   */
  async fit(t: Table, lsn: Lsn, ...images: (RowImage | undefined)[]): Promise<Table> {
    let cur = t;
    for (const image of images) {
      if (!image) continue;
      for (let miss = cur.stage.misfit(image); miss; miss = cur.stage.misfit(image))
        cur = await this.widen(cur, miss.p, miss.need, lsn);
    }
    return cur;
  }

  private async widen(t: Table, p: number, need: Need, lsn: Lsn): Promise<Table> {
    const h = this.h;
    await h.begin();
    // The staged rows came before this change and fit the column as it is.
    await h.flushTable(t);
    const touched = h.touched.has(keyOf(t));
    const states = await widenColumn(h.conn, t.applier.target, p, need, lsn, touched, this.opts.warn);
    return this.rebuilt(t, states);
  }

  /** The table rebuilt for numeric columns now in other states (forgotten if the transaction rolls back). */
  async rebuilt(t: Table, states: States): Promise<Table> {
    if (states.size === 0) return t;
    const h = this.h;
    h.keepCommitted();
    const built = await h.build(withExactStates(t.applier.target, states), t.watch);
    h.tables.set(keyOf(t), built);
    return built;
  }
}

/** A step as the source's DDL, for a line. */
function stepName(s: Step): string {
  if (s.kind === 'rename') return `RENAME COLUMN ${shownIdent(s.from)} TO ${shownIdent(s.to)}`;
  if (s.kind === 'type') return `ALTER COLUMN ${shownIdent(s.to.name)} TYPE ${s.to.type}`;
  return `${s.kind === 'add' ? 'ADD' : 'DROP'} COLUMN ${shownIdent(s.col.name)}`;
}
