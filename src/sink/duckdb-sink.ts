// The sink: source changes in, committed DuckDB transactions out, each carrying the LSN it covers.
//
// Group commit: several source transactions share one DuckDB transaction, which commits at a source
// commit once --batch-rows changes or --batch-ms have gathered. A source transaction larger than the
// batch is flushed progressively into the still-open DuckDB transaction (JS memory stays at one
// batch) and becomes visible only with its commit. The caller acknowledges to the server only what
// `commit()` returned: the end LSN of the last source transaction inside the committed DuckDB
// transaction, stored in walduck.state by that same transaction.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { SourceTable } from '../source/catalog.js';
import { assertNever, type Change, type TableRef, type Value } from '../wal2json/change.js';
import { type Mismatch, TableApplier } from './apply.js';
import {
  clearSnapshotPending,
  ensureStateTable,
  readSnapshotPending,
  readState,
  writeSnapshotPending,
  writeState,
} from './checkpoint.js';
import { type CsvSegment, loadCsvSegment, loadsAsCsv } from './csv-load.js';
import type { ChangeSink } from './sink.js';
import { TableStage } from './stage.js';
import { describeTarget, ensureTarget, type TargetTable } from './target.js';

export interface SinkOptions {
  readonly slot: string;
  readonly batchRows: number;
  readonly batchMs: number;
  readonly log: (msg: string) => void;
  readonly warn: (msg: string) => void;
  readonly meta?: { systemId?: string; database?: string };
  readonly now?: () => number;
}

interface Table {
  readonly stage: TableStage;
  readonly applier: TableApplier;
}

export interface SinkStats {
  rows: number;
  transactions: number;
  commits: number;
  /** UPDATE/DELETE rows that matched no row (or several) in DuckDB: the replica had diverged. */
  unmatched: number;
}

const tableKey = (schema: string, table: string) => `${schema}\u0000${table}`;

/** Staged text above which the stages go to DuckDB (inside the open transaction) whatever the row count. */
const STAGED_CHARS = 32 * 1024 * 1024;

export class DuckDbSink implements ChangeSink {
  private readonly tables = new Map<string, Table>();
  private txOpen = false;
  private inSource = false;
  private staged = 0;
  /** Characters of row text the stages hold (TableStage.chars, summed as it grows). */
  private stagedChars = 0;
  private batchRows = 0;
  private batchStartedAt = 0;
  /** End LSN of the last source commit seen; becomes durable with the next `commit()`. */
  private lastCommitLsn: Lsn;
  readonly stats: SinkStats = { rows: 0, transactions: 0, commits: 0, unmatched: 0 };
  private readonly warnedMismatch = new Set<TargetTable>();
  private readonly now: () => number;

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly opts: SinkOptions,
    /** The LSN durably recorded in DuckDB (0n for a new file). */
    public storedLsn: Lsn,
    readonly stateExisted: boolean,
  ) {
    this.lastCommitLsn = storedLsn;
    this.now = opts.now ?? Date.now;
  }

  /** Creates or checks the target tables and the state table; reads the stored LSN. */
  static async open(
    conn: DuckDBConnection,
    sources: readonly SourceTable[],
    opts: SinkOptions,
  ): Promise<DuckDbSink> {
    await ensureStateTable(conn);
    const state = await readState(conn, opts.slot);
    const sink = new DuckDbSink(conn, opts, state?.lsn ?? 0n, state !== undefined);
    let n = 0;
    for (const source of sources) {
      const target = describeTarget(source);
      await ensureTarget(conn, target);
      const applier = new TableApplier(conn, target, `walduck_stage_${n++}`, (m) => sink.mismatch(m));
      await applier.createStage();
      sink.tables.set(tableKey(source.schema, source.table), {
        stage: new TableStage(target, opts.warn),
        applier,
      });
    }
    return sink;
  }

  /**
   * A replica equal to the source has the row every UPDATE and DELETE names. When it lacks it (started
   * with --no-snapshot, or the file was edited), applying on would be a silent skip and stopping would
   * never heal it: say so once per table, count every occurrence.
   */
  private mismatch(m: Mismatch): void {
    this.stats.unmatched += Math.abs(m.expected - m.changed);
    const name = `${m.target.source.schema}.${m.target.source.table}`;
    this.opts.log(
      `${name}: ${m.what} changed ${m.changed} row(s) in DuckDB where the source changed ${m.expected}`,
    );
    if (this.warnedMismatch.has(m.target)) return;
    this.warnedMismatch.add(m.target);
    this.opts.warn(
      `${name} no longer equals the source: a ${m.what} changed ${m.changed} row(s) in DuckDB where the source changed ${m.expected} (rows that existed before the slot are missing after --no-snapshot, or the DuckDB table was changed by hand); to make it equal again, remove the DuckDB file and run again with --snapshot`,
    );
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
    return this.batchRows >= this.opts.batchRows || this.now() - this.batchStartedAt >= this.opts.batchMs;
  }

  async apply(change: Change): Promise<void> {
    switch (change.kind) {
      case 'begin':
        this.inSource = true;
        if (!this.hasUncommitted) this.batchStartedAt = this.now();
        return;
      case 'commit':
        this.inSource = false;
        if (change.lsn > this.lastCommitLsn) this.lastCommitLsn = change.lsn;
        this.stats.transactions++;
        return;
      case 'insert': {
        const t = this.table(change);
        if (!t) return;
        await this.begin();
        const before = t.stage.chars;
        t.stage.insert(change.new);
        return this.counted(t.stage.chars - before);
      }
      case 'update': {
        const t = this.table(change);
        if (!t) return;
        await this.begin();
        if (t.applier.target.keyless) {
          await t.applier.flush(t.stage);
          await t.applier.keylessChange(t.stage, change.old ?? change.new, change.new);
          return this.counted();
        }
        const before = t.stage.chars;
        t.stage.update(change.new, change.old);
        return this.counted(t.stage.chars - before);
      }
      case 'delete': {
        const t = this.table(change);
        if (!t) return;
        await this.begin();
        if (t.applier.target.keyless) {
          await t.applier.flush(t.stage);
          await t.applier.keylessChange(t.stage, change.old, undefined);
        } else t.stage.delete(change.old);
        return this.counted();
      }
      case 'truncate': {
        for (const ref of change.tables) {
          const t = this.table(ref);
          if (!t) continue;
          await this.begin();
          // Staged changes came before the TRUNCATE: apply them first, then empty the table.
          this.staged -= t.stage.size;
          this.stagedChars -= t.stage.chars;
          await t.applier.flush(t.stage);
          await t.applier.truncate();
        }
        return;
      }
      case 'message':
        this.opts.log(
          `message prefix=${JSON.stringify(change.prefix)} (${change.content.length} chars) ignored`,
        );
        return;
      default:
        assertNever(change, 'apply');
    }
  }

  /**
   * Applies what is staged, records the last source commit's LSN and commits. Returns the LSN now
   * durable (to acknowledge), or undefined when there was nothing to commit. Only between source
   * transactions: a half-applied source transaction must never be committed.
   */
  async commit(): Promise<Lsn | undefined> {
    if (this.inSource) throw new InternalError('apply', 'commit inside a source transaction');
    if (!this.hasUncommitted) return undefined;
    await this.begin();
    await this.flushStages();
    await writeState(this.conn, this.opts.slot, this.lastCommitLsn, this.opts.meta);
    const t0 = performance.now();
    await this.conn.run('COMMIT');
    this.opts.log(
      `committed ${this.batchRows} change(s) up to ${formatLsn(this.lastCommitLsn)} (COMMIT ${(performance.now() - t0).toFixed(1)} ms)`,
    );
    this.txOpen = false;
    this.storedLsn = this.lastCommitLsn;
    this.batchRows = 0;
    this.stats.commits++;
    return this.storedLsn;
  }

  /** Drops everything not committed (a half-received source transaction on shutdown). */
  async rollback(): Promise<void> {
    if (this.txOpen) await this.conn.run('ROLLBACK');
    this.txOpen = false;
    for (const t of this.tables.values()) t.stage.clear();
    this.staged = 0;
    this.stagedChars = 0;
    this.batchRows = 0;
    this.inSource = false;
    this.lastCommitLsn = this.storedLsn;
  }

  /**
   * Nothing pending and the server reports WAL up to `lsn` decoded (a keepalive): record it, so an
   * idle or unrelated-traffic database does not pin WAL. Returns true when `lsn` is now durable.
   */
  async advanceIdle(lsn: Lsn): Promise<boolean> {
    if (this.inSource || this.hasUncommitted || lsn <= this.storedLsn) return false;
    this.lastCommitLsn = lsn;
    return (await this.commit()) !== undefined;
  }

  // --- The initial snapshot: COPY rows of every table, then the consistent point, in ONE transaction.

  /** Target tables that already hold rows (a snapshot into them would duplicate rows). */
  async nonEmptyTargets(): Promise<string[]> {
    const out: string[] = [];
    for (const t of this.tables.values()) {
      const r = await this.conn.runAndReadAll(`SELECT EXISTS (SELECT 1 FROM ${t.applier.target.name})`);
      if (r.getRows()[0]?.[0] === true) out.push(`${t.applier.target.schema}.${t.applier.target.table}`);
    }
    return out;
  }

  /** Whether this file began a snapshot into the slot and never committed it (see checkpoint.ts). */
  async snapshotPending(): Promise<{ systemId: string | null } | undefined> {
    return readSnapshotPending(this.conn, this.opts.slot);
  }

  /** Committed on its own, before the slot is created. */
  async markSnapshotPending(): Promise<void> {
    if (this.txOpen) throw new InternalError('apply', 'markSnapshotPending inside a transaction');
    await writeSnapshotPending(this.conn, this.opts.slot, this.opts.meta?.systemId);
  }

  async clearSnapshotPending(): Promise<void> {
    if (this.txOpen) throw new InternalError('apply', 'clearSnapshotPending inside a transaction');
    await clearSnapshotPending(this.conn, this.opts.slot);
  }

  /** COPY rows (PostgreSQL text, column arrays) into a table, inside the snapshot's open transaction. */
  async insertCopied(ref: TableRef, columns: readonly (readonly Value[])[], count: number): Promise<void> {
    const t = this.copiedTable(ref);
    if (count === 0) return;
    await this.begin();
    await t.applier.insertRows(t.stage, columns, count);
  }

  loadsCsv(ref: TableRef): boolean {
    return loadsAsCsv(this.copiedTable(ref).applier.target);
  }

  /** Loads a snapshot segment of COPY csv rows (see csv-load.ts) into the open transaction. */
  async loadCsv(ref: TableRef, segment: CsvSegment): Promise<void> {
    const t = this.copiedTable(ref);
    await this.begin();
    await loadCsvSegment(this.conn, t.applier.target, t.stage, segment);
  }

  private copiedTable(ref: TableRef): Table {
    const t = this.tables.get(tableKey(ref.schema, ref.table));
    if (!t) throw new InternalError('apply', `snapshot rows for unchosen table ${ref.schema}.${ref.table}`);
    return t;
  }

  /**
   * Ends the snapshot: records `lsn` (the slot's consistent point), removes the pending mark and
   * commits it all with the copied rows. Returns the LSN now durable.
   */
  async commitSnapshot(lsn: Lsn): Promise<Lsn> {
    if (this.inSource) throw new InternalError('apply', 'commitSnapshot inside a source transaction');
    await this.begin();
    await clearSnapshotPending(this.conn, this.opts.slot);
    this.lastCommitLsn = lsn;
    await this.commit();
    return this.storedLsn;
  }

  private table(ref: TableRef): Table | undefined {
    const t = this.tables.get(tableKey(ref.schema, ref.table));
    if (!t) this.opts.log(`change for unchosen table ${ref.schema}.${ref.table} ignored`);
    return t;
  }

  private async begin(): Promise<void> {
    if (this.txOpen) return;
    await this.conn.run('BEGIN TRANSACTION');
    this.txOpen = true;
    if (this.batchRows === 0) this.batchStartedAt = this.now();
  }

  /**
   * Counts a change that staged `chars` characters of text; the stages go to DuckDB every
   * --batch-rows changes, or sooner once they hold STAGED_CHARS: rows of 20 kB would otherwise keep
   * --batch-rows × 20 kB in JS.
   */
  private async counted(chars = 0): Promise<void> {
    this.staged++;
    this.stagedChars += chars;
    this.batchRows++;
    this.stats.rows++;
    if (this.staged >= this.opts.batchRows || this.stagedChars >= STAGED_CHARS) await this.flushStages();
  }

  private async flushStages(): Promise<void> {
    for (const t of this.tables.values()) await t.applier.flush(t.stage);
    this.staged = 0;
    this.stagedChars = 0;
  }
}
