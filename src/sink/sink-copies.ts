// The sink's side of online copies (watermark-merge.ts; the copier is replicator/online-copy.ts):
// the copies walduck.copies records, resumed at open; re-copies the router decides while streaming
// (rows that came or went without WAL) and --on-type-change recopy, recorded in the open DuckDB
// transaction; and each chunk's rows, written at its high watermark with the copy's progress.

import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { SourceTable } from '../source/catalog.js';
import type { Recopy } from '../source/routing.js';
import type { Message, RowImage, Value } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { deleteCopy, readCopies, requestCopy, writeCopyProgress } from './copy-state.js';
import { columnsOf } from './row-describe.js';
import { SchemaChangeError } from './schema-change.js';
import type { SchemaWatch } from './schema-follow.js';
import type { SinkOptions } from './sink-options.js';
import { keyOf, type SinkHost, type Table, tableKey } from './sink-table.js';
import { TableSetError } from './table-records.js';
import { ensureTarget } from './target.js';
import { parseWatermark } from './watermark.js';
import { type CopyProgress, WatermarkMerge } from './watermark-merge.js';

/** A table being copied online, for the copier (replicator/online-copy.ts). */
export interface OnlineCopyTarget {
  readonly source: SourceTable;
  readonly merge: WatermarkMerge;
}

/** What a chunk's write reaches of the sink besides SinkHost. */
export interface ChunkHost {
  /** --numeric exact: the table with every numeric column widened to fit `image`. */
  fit(t: Table, lsn: Lsn, image: RowImage): Promise<Table>;
  /** The table's staged rows leave the sink's counts (they are flushed next). */
  unstage(t: Table): void;
  /** Names the row a failed write of many rows choked on (write-errors.ts, wired in sink-batch.ts). */
  wrapBatchError(
    err: unknown,
    t: Table,
    during: 'copy',
    columns: readonly (readonly Value[])[],
    count: number,
  ): Promise<unknown>;
  /** Rows written into the open batch. */
  counted(n: number): void;
}

export class SinkCopies {
  /** Online copies in progress, by table key (watermark-merge.ts); removed once the last chunk commits. */
  private readonly copies = new Map<string, OnlineCopyTarget>();
  /** Copies begun in the open DuckDB transaction: their copier starts once it commits. */
  private readonly addedInTx: string[] = [];
  /** Re-copies recorded in the open DuckDB transaction; a rollback keeps them to record again. */
  private readonly recopiedInTx: Recopy[] = [];
  /**
   * Re-copies decided in a transaction that rolled back (a reconnect): the router will not see their
   * cause again (its catalog is past it), so they are recorded again at the next change, once their
   * table is open under that name (one named by a rename's new name waits for the replay to reach
   * the rename again: the router takes its renames back on a rollback).
   */
  private readonly pending: Recopy[] = [];

  constructor(
    private readonly h: SinkHost,
    private readonly opts: SinkOptions,
    private readonly chunk: ChunkHost,
  ) {}

  get size(): number {
    return this.copies.size;
  }

  get(key: string): OnlineCopyTarget | undefined {
    return this.copies.get(key);
  }

  has(key: string): boolean {
    return this.copies.has(key);
  }

  /** The online copies in progress (their copier reads the source; the sink merges the stream). */
  list(): OnlineCopyTarget[] {
    return [...this.copies.values()];
  }

  /** Follows `t`'s online copy: its chunks merged with the stream, from `progress` when it resumes. */
  private track(
    key: string,
    t: Table,
    compare: NonNullable<SinkOptions['keyCompare']>,
    progress?: CopyProgress,
  ): void {
    const source = t.applier.target.source;
    const merge = new WatermarkMerge(
      source.columns.map((col) => col.name),
      t.applier.target.key,
      compare(source),
      progress,
    );
    this.copies.set(key, { source, merge });
  }

  /** Resumes (or starts) the online copies walduck.copies records for tables of this run. */
  async open(): Promise<void> {
    for (const c of await readCopies(this.h.conn, this.opts.slot)) {
      const was = this.h.tables.get(tableKey(c.schema, c.table));
      if (!was) continue;
      if (!this.opts.keyCompare)
        throw new InternalError('preflight', `online copy of ${shownName(c)} without a key order`);
      const t = c.progress.chunks === 0 ? await this.reshaped(was) : was;
      this.track(keyOf(t), t, this.opts.keyCompare, c.progress);
      this.opts.log(
        `online copy of ${shownName(c)} ${c.progress.chunks > 0 ? `resumes after ${c.progress.rows} row(s) in ${c.progress.chunks} chunk(s)` : 'starts'}`,
      );
    }
  }

  /**
   * Records, in the open DuckDB transaction, the re-copies the router found (rows that came or went
   * without WAL): the commit that covers this point of the stream makes the decision durable with
   * it, so a kill -9 resumes the copy instead of forgetting it.
   */
  async take(lsn: Lsn): Promise<void> {
    if (this.pending.length === 0 && !this.opts.router) return;
    const all = [...this.pending.splice(0), ...(this.opts.router?.takeRecopies() ?? [])];
    // The same table twice (recorded again, and decided again by the replay): one copy.
    const once = new Map(all.map((r) => [tableKey(r.root.schema, r.root.table), r]));
    for (const r of once.values()) if (!(await this.recopy(r, lsn))) this.pending.push(r);
  }

  /**
   * Copies a table again from its first key while the stream goes on: until the first chunk every
   * change of it is dropped (a chunk reads its result), and the first chunk's transaction empties
   * the DuckDB table (emptyFirst). A copy already running starts over. False: no such table open.
   */
  async recopy(r: Recopy, lsn: Lsn): Promise<boolean> {
    const was = this.h.tables.get(tableKey(r.root.schema, r.root.table));
    if (!was) return false;
    const name = shownName(r.root);
    if (!this.opts.keyCompare) throw new InternalError('apply', `re-copy of ${name} without a key order`);
    await this.h.begin();
    await requestCopy(this.h.conn, this.opts.slot, r.root, r.why);
    const key = keyOf(was);
    const running = this.copies.get(key);
    // A table dropped and created again in another shape is copied with its new columns and key (its
    // chunks SELECTed the dropped table's columns, and the copy failed on one it lacks). A copy
    // running then is replaced: its copier stops, and a new one starts once this transaction commits
    // (a rollback drops the new copy, and the re-copy recorded again starts one the same way).
    const t = await this.reshapedInTx(was);
    if (running && t === was) running.merge.restart();
    else {
      running?.merge.retire();
      this.track(key, t, this.opts.keyCompare);
      this.addedInTx.push(key);
    }
    this.recopiedInTx.push(r);
    this.opts.onRecopy?.(r.root);
    this.opts.warn(`${name}: ${r.why}, seen at LSN ${formatLsn(lsn)}: re-copying ${name} online`);
    return true;
  }

  /**
   * A copy not begun yet (`walduck resync` after a schema change stopped the run) copies the table
   * as the source has it now: when the source's columns or key differ from the recorded schema, the
   * DuckDB table is rebuilt empty with the new one (its rows were to be replaced by the first chunk).
   */
  private async reshaped(t: Table): Promise<Table> {
    const h = this.h;
    const w = t.watch;
    const ref = { schema: t.applier.target.source.schema, table: t.applier.target.source.table };
    const source = await this.newShape(t);
    if (!w || !source) return t;
    await h.conn.run('BEGIN TRANSACTION');
    try {
      const built = await this.rebuilt(t, w, source);
      await h.conn.run('COMMIT');
      this.opts.warn(
        `${shownName(ref)}: its schema changed at the source since it was recorded: rebuilt with the new one for its copy`,
      );
      return built;
    } catch (err) {
      await h.conn.run('ROLLBACK').catch(() => {});
      // The table rolled back stays the one in the set.
      h.tables.set(keyOf(t), t);
      throw err;
    }
  }

  /**
   * The source's description of `t` now when its columns or key differ from the recorded schema (a
   * copy not begun must read those), else undefined. Throws when it cannot be copied online so.
   */
  private async newShape(t: Table): Promise<SourceTable | undefined> {
    const w = t.watch;
    const ref = { schema: t.applier.target.source.schema, table: t.applier.target.source.table };
    const now = w && (await this.opts.readSource?.(ref).catch(() => undefined));
    if (!w || !now) return undefined;
    const shape = (cols: readonly string[], key: readonly string[]) => JSON.stringify([cols, key]);
    const was = shape(
      w.rec.columns.filter((c) => !c.dropped).map((c) => `${c.name} ${c.type}`),
      w.rec.keyNames,
    );
    const source = now.table;
    const is = shape(
      source.columns.map((c) => `${c.name} ${c.declared}`),
      source.key.map((k) => source.columns[k]?.name ?? ''),
    );
    if (was === is) return undefined;
    // Checked before anything is rebuilt: the DuckDB table keeps its rows for a new file's snapshot.
    if (now.copyProblem !== undefined)
      throw new TableSetError(
        'WALDUCK_RESYNC_TABLE',
        `${shownName(ref)}: its schema changed at the source since it was recorded, and it cannot be copied online with the new one: ${now.copyProblem}`,
      );
    return source;
  }

  /**
   * A re-copy decided while streaming, in the open DuckDB transaction: the DuckDB table rebuilt empty
   * with the source's schema now when it differs from the recorded one (its rows were to be replaced
   * by the first chunk, and until then the table's changes are dropped unchecked).
   */
  private async reshapedInTx(t: Table): Promise<Table> {
    const w = t.watch;
    const source = await this.newShape(t);
    if (!w || !source) return t;
    const h = this.h;
    await h.flushTable(t);
    h.keepCommitted();
    return this.rebuilt(t, w, source);
  }

  /** The DuckDB table of `t` dropped and made again, empty, as `source` is now (and recorded so). */
  private async rebuilt(t: Table, w: SchemaWatch, source: SourceTable): Promise<Table> {
    const h = this.h;
    const watch = await w.recopied(h.conn, source);
    await h.conn.run(`DROP TABLE ${t.applier.target.name}`);
    const built = await h.build(await ensureTarget(h.conn, h.describe(watch.source)), watch);
    h.tables.set(keyOf(t), built);
    return built;
  }

  /**
   * --on-type-change recopy: a change DuckDB cannot follow in place. In the open DuckDB transaction,
   * at this change's place in the stream: the table is rebuilt empty with the source's schema now,
   * that schema recorded, and an online copy requested, all committed together (a kill -9 resumes the
   * copy). Returns undefined (the change then stops as with `stop`) when the table cannot be copied.
   */
  async recopySchema(
    t: Table,
    w: SchemaWatch,
    r: { readonly what: string; readonly lsn: Lsn },
  ): Promise<Table | undefined> {
    const h = this.h;
    const ref = { schema: t.applier.target.source.schema, table: t.applier.target.source.table };
    const now = await this.opts.readSource?.(ref).catch(() => undefined);
    // A table of that name exists but cannot be copied online (no key): that is the line, not the
    // caller's (which says the table is gone, or asks for a resync that would be refused as well).
    if (now?.copyProblem !== undefined) {
      const name = shownName(ref);
      throw new SchemaChangeError(
        `schema change on ${name} at LSN ${formatLsn(r.lsn)} not applied: ${r.what}, and it cannot be copied online: ${now.copyProblem}; replication stopped before that transaction (nothing after it acknowledged)`,
      );
    }
    if (!now || !this.opts.keyCompare) return undefined;
    await h.begin();
    await h.flushTable(t);
    h.keepCommitted();
    const watch = await w.recopied(h.conn, now.table);
    await h.conn.run(`DROP TABLE ${t.applier.target.name}`);
    const built = await h.build(await ensureTarget(h.conn, h.describe(watch.source)), watch);
    const key = keyOf(t);
    h.tables.set(key, built);
    await requestCopy(h.conn, this.opts.slot, ref, r.what);
    // A copy running (it read the old columns) is replaced, as recopy() replaces one.
    this.copies.get(key)?.merge.retire();
    this.track(key, built, this.opts.keyCompare);
    this.addedInTx.push(key);
    this.opts.onRecopy?.(ref);
    const name = shownName(ref);
    this.opts.warn(
      `${name}: ${r.what}, at LSN ${formatLsn(r.lsn)}: re-copying ${name} online with its new schema`,
    );
    return built;
  }

  /**
   * A watermark of one of this slot's online copies. At a high watermark the chunk's rows go into the
   * open DuckDB transaction with the copy's progress (and, at the last chunk, the end of the copy):
   * the commit that covers this point of the stream makes both durable together.
   */
  async watermark(m: Message): Promise<void> {
    const h = this.h;
    const w = parseWatermark(m.content);
    const key = w && tableKey(w.schema, w.table);
    const copy = key === undefined ? undefined : this.copies.get(key);
    let t = key === undefined ? undefined : h.tables.get(key);
    if (!w || !copy || !t) return;
    if (w.mark === 'low') return copy.merge.low(w.id);
    const write = copy.merge.high(w.id);
    if (!write) return;
    await h.begin();
    // Chunk rows are values like the stream's (--numeric exact widens for them the same way); a
    // table with no widening column skips the per-row check.
    if (t.stage.widens) {
      const names = t.applier.target.source.columns.map((c) => c.name);
      for (const values of write.rows) t = await this.chunk.fit(t, m.lsn, { names, types: [], values });
    }
    this.chunk.unstage(t);
    await t.applier.flush(t.stage);
    if (write.emptyFirst) await t.applier.truncate();
    const n = write.rows.length;
    if (n > 0) {
      const columns = columnsOf(write.rows, t.applier.target.source.columns.length);
      try {
        await t.applier.insertRows(t.stage, columns, n);
      } catch (err) {
        throw await this.chunk.wrapBatchError(err, t, 'copy', columns, n);
      }
    }
    const ref = { schema: w.schema, table: w.table };
    const p = write.progress;
    if (p.done) {
      await deleteCopy(h.conn, this.opts.slot, ref);
      this.opts.onCopied?.(ref);
    } else await writeCopyProgress(h.conn, this.opts.slot, ref, p);
    this.chunk.counted(n);
    this.opts.log(
      `online copy of ${shownName(w)}: chunk ${p.chunks} wrote ${n} row(s) (${p.rows} in all)${p.done ? ', done' : ''}`,
    );
  }

  /** The open DuckDB transaction committed: copies done are over, copies begun in it start. */
  committed(start: ((target: OnlineCopyTarget) => void) | undefined): void {
    for (const [k, c] of this.copies) {
      c.merge.commit();
      if (c.merge.committed.done) this.copies.delete(k);
    }
    this.recopiedInTx.length = 0;
    for (const k of this.addedInTx.splice(0)) {
      const c = this.copies.get(k);
      if (c) start?.(c);
    }
  }

  /** The open DuckDB transaction rolled back: the copies go back with it, its re-copies are kept. */
  rolledBack(): void {
    for (const c of this.copies.values()) c.merge.rollback();
    for (const k of this.addedInTx.splice(0)) this.copies.delete(k);
    this.pending.push(...this.recopiedInTx.splice(0));
  }
}
