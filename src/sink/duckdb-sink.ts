// The sink: source changes in, committed DuckDB transactions out, each carrying the LSN it covers.
//
// Group commit: several source transactions share one DuckDB transaction, which commits at a source
// commit once --batch-changes changes or --batch-ms have gathered. A source transaction larger than the
// batch is flushed progressively into the still-open DuckDB transaction (JS memory stays at one
// batch) and becomes visible only with its commit. The caller acknowledges to the server only what
// `commit()` returned: the end LSN of the last source transaction inside the committed DuckDB
// transaction, stored in walduck.state by that same transaction.
//
// Here: the per-change path (apply, applyNow, the stages and their counts), the DuckDB transaction
// (begin, commit, rollback) and the public API. The rest is done by collaborators given a SinkHost
// (sink-table.ts): sink-build.ts (making a table), sink-routing.ts (a change's table under another
// name, TRUNCATE), sink-reshape.ts (schema changes, numeric widening), sink-renames.ts, sink-copies.ts
// (online copies) and sink-snapshot.ts (the initial snapshot); write-errors.ts names a failed write.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
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
import { BatchXids } from './batch-xids.js';
import { ensureStateTable, readState, writeState } from './checkpoint.js';
import { CommitRoom } from './commit-room.js';
import type { CsvSegment } from './csv-load.js';
import { DEFAULT_MEMORY_LIMIT } from './duckdb-file.js';
import { DuckFileError } from './errors.js';
import { FillWindows } from './fill-window.js';
import type { ChangeSink } from './sink.js';
import { SinkBuild } from './sink-build.js';
import { type OnlineCopyTarget, SinkCopies } from './sink-copies.js';
import type { SinkOptions, SinkStats } from './sink-options.js';
import { SinkRenames } from './sink-renames.js';
import { SinkReshape } from './sink-reshape.js';
import { SinkRouting } from './sink-routing.js';
import { SinkSnapshot } from './sink-snapshot.js';
import { keyOf, type SinkHost, type Table, tableKey } from './sink-table.js';
import { RenameReplay } from './table-rename.js';
import { copyPrefix } from './watermark.js';
import { wrapBatchError, wrapChangeError } from './write-errors.js';

export type { OnlineCopyTarget, SinkOptions, SinkStats };

/**
 * Staged text (TableStage.chars: characters plus a cost per value) above which the stages go to DuckDB,
 * inside the open transaction, whatever the change count. Small on purpose: staged values are young JS
 * strings, and a stage that outlives a few scavenges is copied and promoted by V8 over and over. At
 * 16M a million 100-row-transaction inserts spent 10.5 CPU s; at 2M (~11k narrow rows, ~1,300 rows of
 * 50 columns, ~100 rows of 20 kB) 6.5; at 256k the flushes' own cost starts to show.
 */
const STAGED_CHARS = 2 * 1024 * 1024;

export class DuckDbSink implements ChangeSink {
  private readonly tables = new Map<string, Table>();
  private txOpen = false;
  private inSource = false;
  private staged = 0;
  /** Characters of row text the stages hold (TableStage.chars, summed as it grows). */
  private stagedChars = 0;
  /** Changes in the open DuckDB transaction. */
  private batchChanges = 0;
  private batchStartedAt = 0;
  /** End LSN of the last source commit seen; becomes durable with the next `commit()`. */
  private lastCommitLsn: Lsn;
  readonly stats: SinkStats = { changes: 0, transactions: 0, commits: 0, unmatched: 0 };
  /** ChangeSink.rowChanges: a change of a table not followed (ignored) is not counted. */
  get rowChanges(): number {
    return this.stats.changes;
  }
  private readonly now: () => number;
  /** Tables the open DuckDB transaction has updated or deleted rows of (or will, from their stage). */
  private readonly touched = new Set<string>();
  /** The tables as they were at the last commit, while a schema change is uncommitted. */
  private committedTables: Map<string, Table> | undefined;
  /** Makes the tables of the set: at open, when one joins, when one changes shape (sink-build.ts). */
  private readonly builder: SinkBuild;
  /** Online copies in progress and re-copies decided while streaming (sink-copies.ts). */
  private readonly copies: SinkCopies;
  /** Schema changes followed and numeric columns widened, in the open DuckDB transaction (sink-reshape.ts). */
  private readonly reshape: SinkReshape;
  /** The initial snapshot's COPY rows and its pending mark (sink-snapshot.ts); commitSnapshot ends it. */
  private readonly snapshot: SinkSnapshot;
  /** True while commitSnapshot commits: that commit holds no stream changes. */
  private committingSnapshot = false;
  /** RENAME TABLE / SET SCHEMA at the source, applied in the open DuckDB transaction (sink-renames.ts). */
  private readonly renames: SinkRenames;
  /** The table of a change under a name the sink does not hold, and TRUNCATE (sink-routing.ts). */
  private readonly routing: SinkRouting;
  /**
   * The source transactions committed since the last DuckDB commit, kept here only: renameNews reads
   * the catalog once they are visible, and the router asks whether a renaming one is among them.
   */
  private readonly batchXids = new BatchXids();
  /** The room in DuckDB's pool one vector of the open transaction's rows needs (commit-room.ts). */
  private readonly room: CommitRoom;
  /** Fills from the source the stream has not passed yet: key UPDATEs are checked (fill-window.ts). */
  private readonly fills: FillWindows;
  /** Starts the copier of a copy begun while streaming (set by the replicator for its session). */
  onCopyStart: ((target: OnlineCopyTarget) => void) | undefined;

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly opts: SinkOptions,
    /** The LSN durably recorded in DuckDB (0n for a new file). */
    public storedLsn: Lsn,
    readonly stateExisted: boolean,
    private readonly catalog: string,
  ) {
    this.lastCommitLsn = storedLsn;
    this.now = opts.now ?? Date.now;
    opts.router?.useBatch(this.batchXids, opts.slot);
    this.builder = new SinkBuild(conn, opts, catalog, this.stats);
    this.room = new CommitRoom(conn, opts.memoryLimit, opts.log, opts.warn);
    const unstage = (t: Table) => {
      this.staged -= t.stage.size;
      this.stagedChars -= t.stage.chars;
    };
    const host: SinkHost = {
      conn,
      tables: this.tables,
      touched: this.touched,
      inTransaction: () => this.txOpen,
      begin: () => this.begin(),
      unstage,
      flushTable: (t) => this.flushTable(t),
      keepCommitted: () => {
        this.committedTables ??= new Map(this.tables);
      },
      describe: (source) => this.builder.describe(source),
      build: (target, watch) => this.builder.build(target, watch),
    };
    this.copies = new SinkCopies(host, opts, {
      fit: (t, lsn, image) => this.reshape.fit(t, lsn, image),
      unstage,
      // An online copy's rows come from a snapshot of their own, at no LSN of the stream: the
      // initial snapshot's (copyingAt) would be another copy's, stale or unset.
      wrapBatchError: (err, t, during, columns, count) =>
        wrapBatchError(err, t, during, undefined, columns, count),
      counted: (n) => {
        this.batchChanges += n;
      },
    });
    this.fills = new FillWindows(opts.slot);
    this.reshape = new SinkReshape(host, opts, this.copies, this.fills);
    this.snapshot = new SinkSnapshot(host, opts, catalog, this.reshape);
    this.renames = new SinkRenames(
      host,
      opts,
      (key) => this.copies.has(key),
      (r, lsn) => this.copies.recopy(r, lsn),
    );
    this.routing = new SinkRouting(host, opts, this.renames, this.copies);
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

  /** Something applied or seen that DuckDB has not committed yet. */
  get hasUncommitted(): boolean {
    return this.txOpen || this.lastCommitLsn > this.storedLsn;
  }

  /** At a source-transaction boundary with a full or old enough batch: time to `commit()`. */
  get due(): boolean {
    if (this.inSource || !this.hasUncommitted) return false;
    return (
      this.batchChanges >= this.opts.batchChanges ||
      this.now() - this.batchStartedAt >= this.opts.batchMs ||
      this.batchXids.full
    );
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

  /**
   * Applies what is staged, records the last source commit's LSN and commits. Returns the LSN now
   * durable (to acknowledge), or undefined when there was nothing to commit. Only between source
   * transactions: a half-applied source transaction must never be committed.
   */
  async commit(): Promise<Lsn | undefined> {
    if (this.inSource) throw new InternalError('apply', 'commit inside a source transaction');
    if (!this.hasUncommitted) return undefined;
    // Changes left out whose owner is not settled yet (a table renamed while walduck was stopped):
    // the recorded LSN must not pass them (source/renames.ts); the batch stays open.
    if (!this.committingSnapshot && this.opts.router?.holding?.()) return undefined;
    // (The initial snapshot's commit holds no stream changes: nothing to place.)
    if (!this.committingSnapshot && (await this.opts.router?.renameNews()))
      throw new RenameReplay(
        'a followed table was renamed at the source and another table took its old name: the open batch is read again from the last commit, placing the rename exactly',
      );
    // That check may have found a table dropped and created again, whose new oid the table set writes
    // in this commit: its re-copy goes in with it (taken at the next transaction, a kill -9 between
    // the two lost it, and the next start streamed the new table over the dropped one's rows).
    // So too a rename whose transaction the batch committed: taken at the next transaction otherwise,
    // and a stop or kill before that left the position past the rename stored without it.
    if (!this.committingSnapshot) {
      await this.renames.take(this.lastCommitLsn);
      await this.copies.take(this.lastCommitLsn);
    }
    await this.begin();
    await this.flushStages();
    await this.fills.passed(this.conn, this.lastCommitLsn);
    await writeState(this.conn, this.catalog, this.opts.slot, this.lastCommitLsn, this.opts.meta);
    await this.opts.beforeCommit?.(this.conn);
    await this.room.beforeCommit();
    const t0 = performance.now();
    try {
      await this.conn.run('COMMIT');
    } catch (err) {
      // A failed COMMIT ends DuckDB's transaction: a ROLLBACK after it would fail in its turn.
      this.txOpen = false;
      await this.room.after();
      // DuckDB's own text names no LSN and no phase ("TransactionContext Error: Failed to commit: …").
      const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
      const full = /failed to pin block|Out of Memory/i.test(msg)
        ? ` DuckDB's buffer pool was full: raise --duckdb-memory-limit (default ${DEFAULT_MEMORY_LIMIT}, e.g. 1GB).`
        : '';
      // DuckDB checkpoints inside a COMMIT once its WAL is large; that can fail after the commit is
      // durable, and then the instance is closed to further use. The LSN committed with the rows.
      if (/COMMIT succeeded/i.test(msg))
        throw new DuckFileError(
          'WALDUCK_DUCKDB_COMMIT',
          `DuckDB committed the batch up to ${formatLsn(this.lastCommitLsn)}, then failed to checkpoint: ${msg}; the batch is stored with its LSN (DuckDB replays its WAL when the file is opened again) but the server was not told: a restart goes on from it, applying nothing twice.${full}`,
          { cause: err },
        );
      throw new DuckFileError(
        'WALDUCK_DUCKDB_COMMIT',
        `DuckDB could not commit the batch up to ${formatLsn(this.lastCommitLsn)}: ${msg}; nothing of it is stored, and the server was not told it is applied (a restart reads it again).${full}`,
        { cause: err },
      );
    }
    await this.room.after(this.lastCommitLsn);
    this.opts.log(
      `committed ${this.batchChanges} change(s) up to ${formatLsn(this.lastCommitLsn)} (COMMIT ${(performance.now() - t0).toFixed(1)} ms)`,
    );
    this.txOpen = false;
    this.committedTables = undefined;
    this.touched.clear();
    this.routing.committed();
    this.opts.router?.batchCommitted();
    this.copies.committed(this.onCopyStart);
    this.fills.commit();
    this.storedLsn = this.lastCommitLsn;
    this.batchChanges = 0;
    this.batchXids.clear();
    this.stats.commits++;
    return this.storedLsn;
  }

  /** Drops everything not committed (a half-received source transaction on shutdown). */
  async rollback(): Promise<void> {
    const open = this.txOpen;
    // Closed whatever ROLLBACK says: DuckDB may have ended the transaction itself (a failed statement
    // of the instance), and a flag left open made the next caller refuse to run.
    this.txOpen = false;
    if (open) await this.conn.run('ROLLBACK');
    await this.room.after();
    this.copies.rolledBack();
    this.fills.rollback();
    this.touched.clear();
    // A schema change rolled back with the rest: the tables go back to their committed shape.
    if (this.committedTables) {
      this.tables.clear();
      for (const [k, t] of this.committedTables) this.tables.set(k, t);
      this.committedTables = undefined;
    }
    this.routing.rolledBack();
    this.snapshot.rolledBack();
    for (const t of this.tables.values()) t.stage.clear();
    this.staged = 0;
    this.stagedChars = 0;
    this.batchChanges = 0;
    this.batchXids.clear();
    this.opts.router?.rolledBack();
    this.inSource = false;
    this.lastCommitLsn = this.storedLsn;
  }

  /** The server reports its WAL decoded up to `lsn` (a keepalive), pending work or not. */
  streamPassed(lsn: Lsn): void {
    if (!this.inSource) this.opts.router?.streamPassed?.(lsn);
  }

  /**
   * Nothing pending and the server reports WAL up to `lsn` decoded (a keepalive): record it, so an
   * idle or unrelated-traffic database does not pin WAL. Returns true when `lsn` is now durable.
   */
  async advanceIdle(lsn: Lsn): Promise<boolean> {
    if (this.inSource || this.hasUncommitted || lsn <= this.storedLsn) return false;
    // A quiet database still gets its partitions looked at: a DETACH writes no change to wake us.
    await this.opts.router?.maybeRefresh();
    await this.renames.take(lsn);
    await this.copies.take(lsn);
    this.lastCommitLsn = lsn;
    return (await this.commit()) !== undefined;
  }

  // --- The initial snapshot: COPY rows of every table, then the consistent point, in ONE transaction.

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

  /**
   * Ends the snapshot: records `lsn` (the slot's consistent point), removes the pending mark and
   * commits it all with the copied rows. Returns the LSN now durable.
   */
  async commitSnapshot(lsn: Lsn): Promise<Lsn> {
    if (this.inSource) throw new InternalError('apply', 'commitSnapshot inside a source transaction');
    await this.begin();
    await this.snapshot.settle(lsn);
    this.lastCommitLsn = lsn;
    this.committingSnapshot = true;
    try {
      await this.commit();
    } finally {
      this.committingSnapshot = false;
    }
    return this.storedLsn;
  }

  private async begin(): Promise<void> {
    if (this.txOpen) return;
    await this.conn.run('BEGIN TRANSACTION');
    this.txOpen = true;
    if (this.batchChanges === 0) this.batchStartedAt = this.now();
  }

  /**
   * Counts a change that staged `chars` characters of text; the stages go to DuckDB every
   * --batch-changes changes, or sooner once they hold STAGED_CHARS: rows of 20 kB would otherwise keep
   * --batch-changes × 20 kB in JS.
   */
  private async counted(chars = 0): Promise<void> {
    if (this.count(chars)) await this.flushStages();
  }

  /** Counts a change (see counted); true when the stages are due to go to DuckDB. */
  private count(chars: number): boolean {
    this.staged++;
    this.stagedChars += chars;
    this.batchChanges++;
    return this.staged >= this.opts.batchChanges || this.stagedChars >= STAGED_CHARS;
  }

  /** One table's staged rows into DuckDB now (before its shape changes), errors named as flushStages does. */
  private async flushTable(t: Table): Promise<void> {
    await this.room.before();
    this.staged -= t.stage.size;
    this.stagedChars -= t.stage.chars;
    try {
      await t.applier.flush(t.stage);
    } catch (err) {
      throw await wrapBatchError(err, t, 'apply', this.lastCommitLsn, t.stage.textColumns(), t.stage.size);
    }
  }

  private async flushStages(): Promise<void> {
    await this.room.before();
    for (const t of this.tables.values()) {
      // Not written since the last flush: its kept room goes (a sink follows any number of tables).
      if (t.stage.size === 0) {
        t.stage.trim();
        t.applier.releaseChunks();
        continue;
      }
      try {
        await t.applier.flush(t.stage);
      } catch (err) {
        throw await wrapBatchError(err, t, 'apply', this.lastCommitLsn, t.stage.textColumns(), t.stage.size);
      }
    }
    this.staged = 0;
    this.stagedChars = 0;
  }
}
