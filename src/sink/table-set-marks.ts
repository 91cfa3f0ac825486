// The table set's marks while it runs (table-set.ts describes the set, its states, and what a start
// compares with the source): a table followed, skipped, renamed, dropped at the source or created
// again, a partition joining or leaving its root, a table's state as its online copy begins and ends,
// what the sink asks before a table joins (collision, replacesDropped, mayJoinLive), and the set
// written in the DuckDB transaction that commits the rows it describes.
//
// While streaming, tables created at the source (all-tables mode) and partitions joining a root are
// added here and written with the next DuckDB commit; so is a created table that cannot be replicated
// (skipped: its rows went past while it was, so a start copies it online once it can be, as a table
// added to the set, never taking it for new since the last run).
//
// TableSet (table-set.ts) extends this class with the start's comparison with the source (reconcile).
// Kept apart so that each reads alone: the stream's marks never look at the source, the start's
// comparison is one long decision. One class over two files, as stage.ts over stage-rows.ts, because
// the start records its decision with these same marks (follow, setState, write).

import type { DuckDBConnection } from '@duckdb/node-api';
import type { SourceTable } from '../source/catalog.js';
import type { Leaf } from '../source/leaf.js';
import { refKey, refName, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { type Mode, type TableRecord, type TableState, writeTableSet } from './table-records.js';
import { keptCollision, keptHolder } from './table-set-checks.js';
import { targetSchema } from './target.js';

export class TableSetMarks {
  protected dirty = false;
  /** Stopped records followed again while streaming, in this run (replacesDropped). */
  private readonly revived = new Set<string>();

  protected constructor(
    protected readonly slot: string,
    protected readonly mode: Mode,
    protected readonly records: Map<string, TableRecord>,
    protected readonly maxOid: bigint,
  ) {}

  /**
   * Why `t`, joining while streaming (a table created at the source), cannot land in its DuckDB table:
   * one no longer followed holds it (keptHolder). Undefined when it can.
   */
  collision(t: TableRef): string | undefined {
    // (Its own record, stopped, is no collision: replacesDropped.)
    const kept = [...this.records.values()].filter((r) => r.state === 'stopped' || r.state === 'skipped');
    const holder = keptHolder(kept, t);
    return holder && keptCollision(t, holder);
  }

  /**
   * Whether `t`, joining while streaming, is its own name's table created again: dropped at the
   * source before this run (its record stopped), or followed again in this run by a DuckDB
   * transaction that may still roll back (its DuckDB table then holds the dropped rows again).
   */
  replacesDropped(t: TableRef): boolean {
    const k = refKey(t);
    return this.records.get(k)?.state === 'stopped' || this.revived.has(k);
  }

  /**
   * Whether `t`, skipped by this start for want of a key, may join while streaming (copied online):
   * never recorded, or recorded as skipped. A stopped record's DuckDB table is the next start's to
   * decide on (copied again, or dropped with --drop-removed).
   */
  mayJoinLive(t: TableRef): boolean {
    const r = this.records.get(refKey(t));
    return r === undefined || r.state === 'skipped';
  }

  /** A table followed from now on (at start, or created at the source while streaming). */
  follow(t: SourceTable, leaves: readonly string[] = [], prior?: TableRecord): void {
    const was = prior ?? this.records.get(refKey(t));
    if (prior === undefined && was?.state === 'stopped') this.revived.add(refKey(t));
    // Skipped under another name (renamed while skipped), joining now: that record named a table no
    // longer there, and `walduck status` listed it as skipped beside this one.
    if (t.oid !== undefined)
      for (const [k, r] of this.records)
        if (r.state === 'skipped' && r.oid === t.oid && k !== refKey(t)) this.records.delete(k);
    this.records.set(refKey(t), {
      sourceSchema: t.schema,
      sourceTable: t.table,
      targetSchema: targetSchema(t.schema),
      targetTable: t.table,
      state: 'streaming',
      leaves,
      lsn: null,
      note: was?.renamedFrom.length ? was.note : null,
      oid: t.oid !== undefined && /^\d+$/.test(t.oid) ? t.oid : (was?.oid ?? null),
      renamedFrom: was?.renamedFrom ?? [],
    });
    this.dirty = true;
  }

  /**
   * A table created at the source while streaming that cannot be replicated (all-tables mode), or one
   * the start skipped that a check released and that lost its key again: its changes are dropped from
   * now on, and the slot passes rows it held. Recorded, so that no start
   * takes it for new since the last run (all its rows in WAL) once it can be replicated: it is copied
   * online then. A DuckDB table a record of its name kept stays accounted for.
   */
  skipped(t: TableRef, oid: string, why: string): void {
    const was = this.records.get(refKey(t));
    if (was?.state === 'streaming' || was?.state === 'copying') return;
    // Recorded so already (every all-tables start skips the same keyless tables): nothing to write.
    const note = `skipped while walduck ran, not replicated: ${why}`;
    if (was?.state === 'skipped' && was.oid === oid && was.note === note) return;
    this.records.set(refKey(t), {
      sourceSchema: t.schema,
      sourceTable: t.table,
      targetSchema: was?.targetSchema ?? null,
      targetTable: was?.targetTable ?? null,
      state: 'skipped',
      leaves: [],
      lsn: null,
      note,
      oid,
      renamedFrom: was?.renamedFrom ?? [],
    });
    this.dirty = true;
  }

  /**
   * Followed tables renamed at the source (RENAME TABLE, SET SCHEMA), at `lsn` of the stream, as one
   * set: in a swap (a to b, b to a) each record is taken under its old name before one takes a new
   * name, or the first would overwrite the record the second renames.
   */
  renamed(renames: readonly { from: TableRef; to: TableRef }[], lsn: string): void {
    const taken = renames.map(({ from, to }) => ({ from, to, r: this.records.get(refKey(from)) }));
    for (const { from, r } of taken) if (r) this.records.delete(refKey(from));
    for (const { from, to, r } of taken) {
      if (!r) continue;
      this.records.set(refKey(to), {
        ...r,
        sourceSchema: to.schema,
        sourceTable: to.table,
        targetSchema: targetSchema(to.schema),
        targetTable: to.table,
        note: `renamed from ${shownName(from)} at LSN ${lsn}`,
        renamedFrom: [...r.renamedFrom, { name: refName(from), lsn }],
      });
      this.dirty = true;
    }
  }

  /** A table's state from now on (copying -> streaming when its online copy ends). */
  setState(t: TableRef | string, state: TableState): void {
    const k = typeof t === 'string' ? t : refKey(t);
    const r = this.records.get(k);
    if (!r || r.state === state) return;
    this.records.set(k, { ...r, state });
    this.dirty = true;
  }

  /** A partition routed to its root while streaming. */
  addLeaf(leaf: Leaf): void {
    const r = this.records.get(refKey(leaf.root));
    if (!r || r.leaves.includes(refName(leaf))) return;
    this.records.set(refKey(leaf.root), { ...r, leaves: [...r.leaves, refName(leaf)].sort() });
    this.dirty = true;
  }

  /**
   * A table dropped at the source while streaming: stopped, as a table removed from the set is. Its
   * changes before the DROP still apply (the stream may not have reached it); none come after.
   */
  dropped(t: TableRef): void {
    const r = this.records.get(refKey(t));
    if (!r || r.state === 'stopped') return;
    this.records.set(refKey(t), { ...r, state: 'stopped', note: 'dropped at the source' });
    this.dirty = true;
  }

  /** Dropped and created again while streaming (re-copied): the record follows the new oid. */
  replaced(t: SourceTable): void {
    const r = this.records.get(refKey(t));
    if (!r || t.oid === undefined || r.oid === t.oid) return;
    this.records.set(refKey(t), { ...r, oid: t.oid });
    this.dirty = true;
  }

  /** A partition detached or dropped while streaming (its root is re-copied). */
  removeLeaf(leaf: Leaf): void {
    const r = this.records.get(refKey(leaf.root));
    if (!r?.leaves.includes(refName(leaf))) return;
    this.records.set(refKey(leaf.root), { ...r, leaves: r.leaves.filter((l) => l !== refName(leaf)) });
    this.dirty = true;
  }

  /** Inside the DuckDB transaction that commits the rows: the set as it now is. */
  async write(conn: DuckDBConnection): Promise<void> {
    if (!this.dirty) return;
    await writeTableSet(conn, this.slot, [...this.records.values()], this.mode, this.maxOid);
    this.dirty = false;
  }
}
