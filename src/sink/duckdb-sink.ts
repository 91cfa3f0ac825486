// The sink: source changes in, committed DuckDB transactions out, each carrying the LSN it covers.
//
// Group commit: several source transactions share one DuckDB transaction, which commits at a source
// commit once --batch-changes changes or --batch-ms have gathered. A source transaction larger than the
// batch is flushed progressively into the still-open DuckDB transaction (JS memory stays at one
// batch) and becomes visible only with its commit. The caller acknowledges to the server only what
// `commit()` returned: the end LSN of the last source transaction inside the committed DuckDB
// transaction, stored in walduck.state by that same transaction.
//
// Here: the per-change path (apply, applyNow, the stages) and the public API. The DuckDB transaction
// the batch shares (its counts, begin, commit, rollback) and the wiring of the collaborators are
// sink-batch.ts, which this class extends. The rest is done by collaborators given a SinkHost
// (sink-table.ts): sink-build.ts (making a table), sink-routing.ts (a change's table under another
// name, TRUNCATE), sink-reshape.ts (schema changes, numeric widening), sink-renames.ts, sink-copies.ts
// (online copies) and sink-snapshot.ts (the initial snapshot); write-errors.ts names a failed write.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { Lsn } from '../protocol/lsn.js';
import type { SourceTable } from '../source/catalog.js';
import {
  assertNever,
  type Change,
  type Commit,
  type Delete,
  type Insert,
  type TableRef,
  type Update,
  type Value,
} from '../wal2json/change.js';
import { ensureStateTable, readState } from './checkpoint.js';
import type { CsvSegment } from './csv-load.js';
import type { ChangeSink } from './sink.js';
import { SinkBatch } from './sink-batch.js';
import type { OnlineCopyTarget } from './sink-copies.js';
import type { SinkOptions, SinkStats } from './sink-options.js';
import { keyOf, type Table, tableKey } from './sink-table.js';
import { copyPrefix } from './watermark.js';
import { wrapChangeError } from './write-errors.js';

export type { OnlineCopyTarget, SinkOptions, SinkStats };

export class DuckDbSink extends SinkBatch implements ChangeSink {
  /** ChangeSink.rowChanges: a change of a table not followed (ignored) is not counted. */
  get rowChanges(): number {
    return this.stats.changes;
  }

  private constructor(
    conn: DuckDBConnection,
    opts: SinkOptions,
    /** The LSN durably recorded in DuckDB (0n for a new file). */
    storedLsn: Lsn,
    stateExisted: boolean,
    catalog: string,
  ) {
    super(conn, opts, storedLsn, stateExisted, catalog);
  }

  /** Creates or checks the target tables and the state table; reads the stored LSN. */
  static async open(
    conn: DuckDBConnection,
    sources: readonly SourceTable[],
    opts: SinkOptions,
  ): Promise<DuckDbSink> {
    // The attached database's own name: DuckDB names it after the file (walduck.duckdb -> "walduck",
    // temp.duckdb -> "temp_db"), so every reference walduck makes is qualified with it.
    const catalog = String((await conn.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0]);
    await ensureStateTable(conn, catalog);
    const state = await readState(conn, catalog, opts.slot);
    const sink = new DuckDbSink(conn, opts, state?.lsn ?? 0n, state !== undefined, catalog);
    await sink.builder.openAll(sources, sink.tables, state === undefined);
    await sink.fills.load(conn, sink.storedLsn);
    await sink.copies.open();
    return sink;
  }

  /** The online copies in progress (their copier reads the source; this sink merges the stream). */
  onlineCopies(): OnlineCopyTarget[] {
    return this.copies.list();
  }

  get inSourceTransaction(): boolean {
    return this.inSource;
  }

  /**
   * A commit, and a row change of a known table in the open DuckDB transaction with the shape last
   * seen, are taken synchronously (applyNow): the async path's chain of awaits cost more than the
   * staging itself at a million rows. Everything else, and a flush, takes the async path.
   */
  apply(change: Change): Promise<void> | undefined {
    let flush: boolean | undefined;
    try {
      flush = this.applyNow(change);
    } catch (err) {
      return Promise.reject(wrapChangeError(err, change, this.tables));
    }
    if (flush === false) return undefined;
    if (flush === true)
      return this.flushStages().catch((err: unknown) => {
        throw wrapChangeError(err, change, this.tables);
      });
    return this.applyAsync(change);
  }

  private async applyAsync(change: Change): Promise<void> {
    try {
      await this.applyChange(change);
    } catch (err) {
      throw wrapChangeError(err, change, this.tables);
    }
  }

  /**
   * Takes the change here and now when nothing about it needs DuckDB or a lookup: returns whether the
   * stages are due to be flushed, or undefined when the change must take the async path. Whatever it
   * takes, it does exactly what applyChange would (resolve finds the table, follow and fit pass).
   */
  private applyNow(change: Change): boolean | undefined {
    if (change.kind === 'commit') {
      this.sourceCommitted(change);
      return false;
    }
    if (change.kind !== 'insert' && change.kind !== 'update' && change.kind !== 'delete') return undefined;
    if (!this.txOpen || this.renames.inRenaming || this.copies.size > 0 || this.fills.size > 0)
      return undefined;
    const t = this.tables.get(this.keyFor(change.schema, change.table));
    if (!t || t.stage.widens || (t.watch !== undefined && !t.watch.unchanged(change))) return undefined;
    if (change.kind !== 'insert' && t.applier.target.keyless) return undefined;
    this.stats.changes++;
    return this.count(this.stageNow(t, change));
  }

  /** tableKey, remembered for the last name seen (a stream's changes mostly name the same table). */
  private lastKey = { schema: '', table: '', key: tableKey('', '') };
  private keyFor(schema: string, table: string): string {
    const k = this.lastKey;
    if (k.schema === schema && k.table === table) return k.key;
    this.lastKey = { schema, table, key: tableKey(schema, table) };
    return this.lastKey.key;
  }

  private async applyChange(change: Change): Promise<void> {
    switch (change.kind) {
      case 'begin':
        await this.opts.router?.maybeRefresh();
        // Renames first: a re-copy names the table by its name now.
        await this.renames.take(this.lastCommitLsn);
        await this.copies.take(change.lsn);
        this.renames.began(change.xid);
        this.inSource = true;
        if (!this.hasUncommitted) this.batchStartedAt = this.now();
        return;
      case 'commit':
        this.sourceCommitted(change);
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        if (this.renames.inRenaming && (await this.renames.ambiguous(change, this.lastCommitLsn))) return;
        let t = await this.routing.resolve(change, change.lsn);
        if (!t) return;
        this.stats.changes++;
        // A leaf partition may list the root's columns in another order. Awaited only then: an await
        // of a plain value is still a microtask turn, per row.
        const inOrder = this.routing.ordered(t, change);
        const row = inOrder instanceof Promise ? await inOrder : inOrder;
        t = await this.reshape.follow(t, row);
        if (row.kind === 'update' && this.fills.size > 0)
          if (await this.reshape.movedPastFill(t, row, this.lastCommitLsn)) return;
        // A value that does not fit its column (--numeric exact) widens it first, whatever the
        // online copy's merge then does with the change: a wider column holds every narrower value.
        // (Only tables with a widening column pay for the check: this runs per row.)
        if (row.kind !== 'delete' && t.stage.widens)
          t = await this.reshape.fit(t, row.lsn, row.new, row.kind === 'update' ? row.old : undefined);
        const copy = this.copies.get(keyOf(t));
        if (!copy) return this.stageRow(t, row);
        for (const routed of copy.merge.route(row)) await this.stageRow(t, routed);
        return;
      }
      case 'truncate':
        return this.routing.truncate(change.tables, this.lastCommitLsn);
      case 'message':
        if (change.prefix === copyPrefix(this.opts.slot)) return this.copies.watermark(change);
        this.opts.log(
          `message prefix=${JSON.stringify(change.prefix)} (${change.content.length} chars) ignored`,
        );
        return;
      default:
        assertNever(change, 'apply');
    }
  }

  private sourceCommitted(change: Commit): void {
    // A rename this transaction made is applied before the next one's changes (renames.take).
    if (change.xid !== undefined) {
      this.opts.router?.committed(change.xid);
      this.batchXids.push(change.xid);
    }
    this.renames.ended();
    this.inSource = false;
    if (change.lsn > this.lastCommitLsn) this.lastCommitLsn = change.lsn;
    this.stats.transactions++;
  }

  /** One row change into the table's stage (or, keyless, straight into DuckDB). */
  private async stageRow(t: Table, change: Insert | Update | Delete): Promise<void> {
    await this.begin();
    if (change.kind !== 'insert' && t.applier.target.keyless) {
      this.touched.add(keyOf(t));
      await t.applier.flush(t.stage);
      if (change.kind === 'update')
        await t.applier.keylessChange(
          t.stage,
          change.old ?? change.new,
          t.watch ? t.watch.withKept(change.new) : change.new,
        );
      else await t.applier.keylessChange(t.stage, change.old, undefined);
      return this.counted();
    }
    return this.counted(this.stageNow(t, change));
  }

  /** A row change into the table's stage (not keyless, for an update or delete): the characters it added. */
  private stageNow(t: Table, change: Insert | Update | Delete): number {
    const stage = t.stage;
    const before = stage.chars;
    if (change.kind === 'delete') {
      this.touched.add(t.key);
      stage.delete(change.old);
      return 0;
    }
    const row = t.watch ? t.watch.withKept(change.new) : change.new;
    if (change.kind === 'insert') stage.insert(row);
    else {
      this.touched.add(t.key);
      stage.update(row, change.old);
    }
    const chars = stage.chars - before;
    this.room.window.note(t.key, chars, row);
    return chars;
  }

  // --- The initial snapshot: COPY rows of every table, then the consistent point, in ONE transaction
  // (commitSnapshot, in sink-batch.ts, ends it).

  /** Target tables that already hold rows (a snapshot into them would duplicate rows). */
  nonEmptyTargets(): Promise<string[]> {
    return this.snapshot.nonEmptyTargets();
  }

  /** Whether this file began a snapshot into the slot and never committed it (see checkpoint.ts). */
  snapshotPending(): Promise<{ systemId: string | null } | undefined> {
    return this.snapshot.pending();
  }

  /** Committed on its own, before the slot is created. */
  markSnapshotPending(): Promise<void> {
    return this.snapshot.markPending();
  }

  clearSnapshotPending(): Promise<void> {
    return this.snapshot.clearPending();
  }

  /** COPY rows (PostgreSQL text, column arrays) into a table, inside the snapshot's open transaction. */
  async insertCopied(ref: TableRef, columns: readonly (readonly Value[])[], count: number): Promise<void> {
    const key = tableKey(ref.schema, ref.table);
    for (let i = 0; i < count; i++) this.room.window.noteColumns(key, columns, i);
    await this.room.before();
    return this.snapshot.insertCopied(ref, columns, count);
  }

  /** The LSN the snapshot being copied is consistent with (named in copy errors). */
  copyingAt(lsn: Lsn): void {
    this.snapshot.copyingAt(lsn);
  }

  loadsCsv(ref: TableRef): boolean {
    return this.snapshot.loadsCsv(ref);
  }

  /** Loads a snapshot segment of COPY csv rows (see csv-load.ts) into the open transaction. */
  async loadCsv(ref: TableRef, segment: CsvSegment): Promise<void> {
    this.room.window.noteSegment(tableKey(ref.schema, ref.table), segment.bytes, segment.largestRows ?? []);
    await this.room.before();
    return this.snapshot.loadCsv(ref, segment);
  }
}
