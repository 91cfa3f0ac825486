// The sink's side of the initial snapshot (replicator/initial-snapshot.ts, snapshot/copy.ts): the
// pending mark a snapshot leaves until it commits (checkpoint.ts), the COPY rows of every table
// written into the one DuckDB transaction the snapshot commits in, and --numeric exact's copied
// columns taken as text and settled on their type at the end. Apart from duckdb-sink.ts because it
// runs once, before streaming: the sink keeps only the commit it ends with (commitSnapshot).

import { InternalError } from '../protocol/errors.js';
import type { Lsn } from '../protocol/lsn.js';
import type { TableRef, Value } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { clearSnapshotPending, readSnapshotPending, writeSnapshotPending } from './checkpoint.js';
import { type CsvSegment, loadCsvSegment, loadsAsCsv } from './csv-load.js';
import { settleCopied, textForCopy } from './exact-widen.js';
import type { SinkOptions } from './sink-options.js';
import type { SinkReshape } from './sink-reshape.js';
import { keyOf, type SinkHost, type Table, tableKey } from './sink-table.js';
import { wrapBatchError } from './write-errors.js';

export class SinkSnapshot {
  /** The LSN the snapshot being copied is consistent with (named in copy errors). */
  private at: Lsn | undefined;
  /** Tables whose numeric columns take the copied text as VARCHAR, their type chosen at the snapshot's end. */
  private readonly copyingExact = new Set<string>();

  constructor(
    private readonly h: SinkHost,
    private readonly opts: SinkOptions,
    /** The attached DuckDB database's name (walduck.state is qualified with it). */
    private readonly catalog: string,
    /** Rebuilds a table whose numeric columns change type (copyExact, settle). */
    private readonly reshape: SinkReshape,
  ) {}

  /** The LSN set by copyingAt, if any. */
  get lsn(): Lsn | undefined {
    return this.at;
  }

  /** Target tables that already hold rows (a snapshot into them would duplicate rows). */
  async nonEmptyTargets(): Promise<string[]> {
    const out: string[] = [];
    for (const t of this.h.tables.values()) {
      const r = await this.h.conn.runAndReadAll(`SELECT EXISTS (SELECT 1 FROM ${t.applier.target.name})`);
      if (r.getRows()[0]?.[0] === true) out.push(shownName(t.applier.target));
    }
    return out;
  }

  /** Whether this file began a snapshot into the slot and never committed it (see checkpoint.ts). */
  async pending(): Promise<{ systemId: string | null } | undefined> {
    return readSnapshotPending(this.h.conn, this.catalog, this.opts.slot);
  }

  /** Committed on its own, before the slot is created. */
  async markPending(): Promise<void> {
    if (this.h.inTransaction()) throw new InternalError('apply', 'markSnapshotPending inside a transaction');
    await writeSnapshotPending(this.h.conn, this.catalog, this.opts.slot, this.opts.meta?.systemId);
  }

  async clearPending(): Promise<void> {
    if (this.h.inTransaction()) throw new InternalError('apply', 'clearSnapshotPending inside a transaction');
    await clearSnapshotPending(this.h.conn, this.catalog, this.opts.slot);
  }

  /** COPY rows (PostgreSQL text, column arrays) into a table, inside the snapshot's open transaction. */
  async insertCopied(ref: TableRef, columns: readonly (readonly Value[])[], count: number): Promise<void> {
    const copied = this.copiedTable(ref);
    if (count === 0) return;
    await this.h.begin();
    const t = await this.copyExact(copied);
    try {
      await t.applier.insertRows(t.stage, columns, count);
    } catch (err) {
      throw await wrapBatchError(err, t, 'copy', this.at, columns, count);
    }
  }

  copyingAt(lsn: Lsn): void {
    this.at = lsn;
  }

  loadsCsv(ref: TableRef): boolean {
    return loadsAsCsv(this.copiedTable(ref).applier.target);
  }

  /** Loads a snapshot segment of COPY csv rows (see csv-load.ts) into the open transaction. */
  async loadCsv(ref: TableRef, segment: CsvSegment): Promise<void> {
    const t = this.copiedTable(ref);
    await this.h.begin();
    const c = await this.copyExact(t);
    await loadCsvSegment(this.h.conn, c.applier.target, segment, this.at);
  }

  /**
   * --numeric exact: a table's first copied rows go into VARCHAR numeric columns (the table is empty,
   * so the ALTER is free); settle then picks the narrowest DECIMAL holding them all, or keeps the
   * text (exact-numeric.ts).
   */
  private async copyExact(t: Table): Promise<Table> {
    const key = keyOf(t);
    if (this.copyingExact.has(key)) return t;
    this.copyingExact.add(key);
    return this.reshape.rebuilt(t, await textForCopy(this.h.conn, t.applier.target));
  }

  /**
   * At the snapshot's end, in its open DuckDB transaction: each copied numeric column's type, from
   * the values copied (see copyExact), then the pending mark removed, to commit with the rows.
   */
  async settle(lsn: Lsn): Promise<void> {
    for (const key of this.copyingExact) {
      const t = this.h.tables.get(key);
      if (t)
        await this.reshape.rebuilt(t, await settleCopied(this.h.conn, t.applier.target, lsn, this.opts.log));
    }
    this.copyingExact.clear();
    await clearSnapshotPending(this.h.conn, this.catalog, this.opts.slot);
  }

  /** The open DuckDB transaction rolled back: the copied columns' text is gone with it. */
  rolledBack(): void {
    this.copyingExact.clear();
  }

  private copiedTable(ref: TableRef): Table {
    const t = this.h.tables.get(tableKey(ref.schema, ref.table));
    if (!t) throw new InternalError('apply', `snapshot rows for unchosen table ${shownName(ref)}`);
    return t;
  }
}
