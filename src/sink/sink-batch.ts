// The DuckDB transaction a batch of source transactions shares (duckdb-sink.ts describes the group
// commit): its counts and when it is due, BEGIN, the stages' flush, COMMIT with the LSN it covers,
// ROLLBACK, and the collaborators (sink-table.ts's SinkHost) wired to it. DuckDbSink extends this
// class with the per-change path and the public API. Kept apart so the commit path reads without the
// per-change one; one class over two files rather than an object the sink calls, because the
// per-change path reads these fields for every row.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { BatchXids } from './batch-xids.js';
import { writeState } from './checkpoint.js';
import { CommitRoom } from './commit-room.js';
import { DEFAULT_MEMORY_LIMIT } from './duckdb-file.js';
import { DuckFileError } from './errors.js';
import { FillWindows } from './fill-window.js';
import { SinkBuild } from './sink-build.js';
import { type OnlineCopyTarget, SinkCopies } from './sink-copies.js';
import type { SinkOptions, SinkStats } from './sink-options.js';
import { SinkRenames } from './sink-renames.js';
import { SinkReshape } from './sink-reshape.js';
import { SinkRouting } from './sink-routing.js';
import { SinkSnapshot } from './sink-snapshot.js';
import type { SinkHost, Table } from './sink-table.js';
import { RenameReplay } from './table-rename.js';
import { wrapBatchError } from './write-errors.js';

/**
 * Staged text (TableStage.chars: characters plus a cost per value) above which the stages go to DuckDB,
 * inside the open transaction, whatever the change count. Small on purpose: staged values are young JS
 * strings, and a stage that outlives a few scavenges is copied and promoted by V8 over and over. At
 * 16M a million 100-row-transaction inserts spent 10.5 CPU s; at 2M (~11k narrow rows, ~1,300 rows of
 * 50 columns, ~100 rows of 20 kB) 6.5; at 256k the flushes' own cost starts to show.
 */
const STAGED_CHARS = 2 * 1024 * 1024;

export class SinkBatch {
  protected readonly tables = new Map<string, Table>();
  protected txOpen = false;
  protected inSource = false;
  private staged = 0;
  /** Characters of row text the stages hold (TableStage.chars, summed as it grows). */
  private stagedChars = 0;
  /** Changes in the open DuckDB transaction. */
  private batchChanges = 0;
  protected batchStartedAt = 0;
  /** End LSN of the last source commit seen; becomes durable with the next `commit()`. */
  protected lastCommitLsn: Lsn;
  readonly stats: SinkStats = { changes: 0, transactions: 0, commits: 0, unmatched: 0 };
  protected readonly now: () => number;
  /** Tables the open DuckDB transaction has updated or deleted rows of (or will, from their stage). */
  protected readonly touched = new Set<string>();
  /** The tables as they were at the last commit, while a schema change is uncommitted. */
  private committedTables: Map<string, Table> | undefined;
  /** Makes the tables of the set: at open, when one joins, when one changes shape (sink-build.ts). */
  protected readonly builder: SinkBuild;
  /** Online copies in progress and re-copies decided while streaming (sink-copies.ts). */
  protected readonly copies: SinkCopies;
  /** Schema changes followed and numeric columns widened, in the open DuckDB transaction (sink-reshape.ts). */
  protected readonly reshape: SinkReshape;
  /** The initial snapshot's COPY rows and its pending mark (sink-snapshot.ts); commitSnapshot ends it. */
  protected readonly snapshot: SinkSnapshot;
  /** True while commitSnapshot commits: that commit holds no stream changes. */
  private committingSnapshot = false;
  /** RENAME TABLE / SET SCHEMA at the source, applied in the open DuckDB transaction (sink-renames.ts). */
  protected readonly renames: SinkRenames;
  /** The table of a change under a name the sink does not hold, and TRUNCATE (sink-routing.ts). */
  protected readonly routing: SinkRouting;
  /**
   * The source transactions committed since the last DuckDB commit, kept here only: renameNews reads
   * the catalog once they are visible, and the router asks whether a renaming one is among them.
   */
  protected readonly batchXids = new BatchXids();
  /** The room in DuckDB's pool one vector of the open transaction's rows needs (commit-room.ts). */
  protected readonly room: CommitRoom;
  /** Fills from the source the stream has not passed yet: key UPDATEs are checked (fill-window.ts). */
  protected readonly fills: FillWindows;
  /** Starts the copier of a copy begun while streaming (set by the replicator for its session). */
  onCopyStart: ((target: OnlineCopyTarget) => void) | undefined;

  protected constructor(
    private readonly conn: DuckDBConnection,
    protected readonly opts: SinkOptions,
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
      await this.joinReleased(this.lastCommitLsn);
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

  /**
   * The stream is quiet (the loop's timer tick): a table skipped in this run that the catalog check
   * finds replicable now joins, though no change of it comes to make it (skipped-new.ts). True when
   * one was looked up: the loop commits (the join is in the open DuckDB transaction).
   */
  async quiet(): Promise<boolean> {
    const router = this.opts.router;
    if (this.inSource || !router?.joinsWaiting?.()) return false;
    await router.checkSkipped?.();
    return (await this.joinReleased(this.lastCommitLsn)) > 0;
  }

  /**
   * Joins the tables a catalog check released, at a commit boundary (`lsn`, the last source commit):
   * each is routed as a change of it would be, so its DuckDB table is created and its online copy
   * recorded in the open DuckDB transaction (one already joined by a change is found open). Returns
   * how many were looked up.
   */
  private async joinReleased(lsn: Lsn): Promise<number> {
    const due = this.opts.router?.takeJoins?.() ?? [];
    for (const ref of due) await this.routing.resolve(ref, lsn);
    return due.length;
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

  protected async begin(): Promise<void> {
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
  protected async counted(chars = 0): Promise<void> {
    if (this.count(chars)) await this.flushStages();
  }

  /** Counts a change (see counted); true when the stages are due to go to DuckDB. */
  protected count(chars: number): boolean {
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

  protected async flushStages(): Promise<void> {
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
