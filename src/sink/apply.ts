// Applies a table's staged batch to DuckDB set-based. The staged rows (exact text, all VARCHAR) go
// through the Appender into a temp table in whole data chunks; then three statements, in the order
// stage.ts relies on: DELETE by old key, UPDATE matched on old key, INSERT. Each converts the text
// with the column's SQL expression from type-map.ts, so DuckDB's parsers do every conversion.
//
// DELETE rows go to a second staging table of their old key alone: a DELETE carries nothing else,
// and sending it through the full one appended a NULL for every other column of every deleted row.
//
// Tables without a key (REPLICA IDENTITY FULL, no primary key) are multisets: an UPDATE or DELETE
// must touch exactly one of possibly identical rows, which a set-based join cannot say. Those go row
// by row (`rowid` of the first match, keyless-change.ts); inserts still go in chunks.
//
// This file is the order of a flush and what it checks; the statements are made in apply-sql.ts, the
// rows appended in chunks by chunk-append.ts.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { LeafInfo } from '../source/routing.js';
import type { RowImage, Value } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { type ApplySql, applyStatements, maskedUpdate } from './apply-sql.js';
import { ChunkAppender } from './chunk-append.js';
import type { Filler } from './filler.js';
import { keylessRowChange } from './keyless-change.js';
import { quoteIdent } from './sql.js';
import { OP_DELETE, OP_INSERT, OP_UPDATE, StageError, type TableStage } from './stage.js';
import type { TargetTable } from './target.js';
import { fillerFor, TEXT_FILLER } from './typed-fill.js';

/** Distinct masks in a batch above which the masked UPDATEs go as one statement that picks per row. */
const MASKS_APART = 8;

export class TableApplier {
  private readonly stageRef: string;
  /** The DELETE rows' staging table: the old key only. */
  private readonly deletesName: string;
  private readonly deletesRef: string;
  /** Every column converts by a plain cast: inserts go straight into the target through the Appender. */
  private readonly direct: boolean;
  private readonly sql: ApplySql;
  /** Per target column: how its text fills a typed vector (typed-fill.ts), or undefined (VARCHAR). */
  private readonly fillers: readonly (Filler | undefined)[];
  /** The same for the staging table's columns: _op, _mask, the old key, then the row. */
  private readonly stageFillers: readonly (Filler | undefined)[];
  /** The key columns' fillers (the DELETE staging table's columns). */
  private readonly keyFillers: readonly (Filler | undefined)[];
  /** The target row `t` a staged row `s` updates or deletes: its old key. */
  private readonly keyMatch: string;
  /** maskedUpdate's statement per mask (apply-sql.ts), made once. */
  private readonly maskedSql = new Map<string, string>();
  /** Appends the staged rows, and inserts that go straight to the target, in whole chunks. */
  private readonly appender: ChunkAppender;

  constructor(
    private readonly conn: DuckDBConnection,
    readonly target: TargetTable,
    private readonly stageName: string,
    /** Told when an UPDATE or DELETE did not touch exactly the rows the source changed. */
    private readonly onMismatch: (m: Mismatch) => void,
  ) {
    this.appender = new ChunkAppender(conn);
    this.stageRef = `temp.main.${quoteIdent(stageName)}`;
    this.deletesName = `${stageName}_d`;
    this.deletesRef = `temp.main.${quoteIdent(this.deletesName)}`;
    this.direct = target.mappings.every((m) => m.direct === true);
    this.fillers = target.mappings.map((m) => fillerFor(m));
    this.keyFillers = target.key.map((k) => this.fillers[k]);
    this.stageFillers = [TEXT_FILLER, TEXT_FILLER, ...this.keyFillers, ...this.fillers];
    const made = applyStatements(target, this.stageRef, this.deletesRef);
    this.keyMatch = made.keyMatch;
    this.sql = made.sql;
  }

  /** The temp staging tables live as long as the DuckDB connection; temp tables are never logged. */
  async createStage(): Promise<void> {
    const cols = [
      '_op',
      '_mask',
      ...this.target.key.map((_, j) => `_k${j}`),
      ...this.target.mappings.map((_, i) => `_c${i}`),
    ];
    // A column with a typed fill is staged in its DuckDB type: the SQL's CAST to that type is then a
    // no-op, and a chunk that falls back to VARCHAR is cast by the Appender, the same cast as before.
    // So is a column whose text only the Appender takes unchecked (json): a VARCHAR stage's CAST
    // refused what a direct append stores.
    const mappings = [
      undefined,
      undefined,
      ...this.target.key.map((k) => this.target.mappings[k]),
      ...this.target.mappings,
    ];
    const typeOf = (i: number) =>
      this.stageFillers[i]?.duckType ?? (mappings[i]?.appended ? mappings[i].duckType : 'VARCHAR');
    await this.conn.run(
      `CREATE OR REPLACE TEMP TABLE ${quoteIdent(this.stageName)} (${cols.map((c, i) => `${c} ${typeOf(i)}`).join(', ')})`,
    );
    // A keyless table's UPDATEs and DELETEs go row by row (keylessChange), never through a stage
    // (its `key` is every column, for those row-by-row matches).
    if (this.target.keyless) return;
    await this.conn.run(
      `CREATE OR REPLACE TEMP TABLE ${quoteIdent(this.deletesName)} (${this.target.key.map((_, j) => `_k${j} ${this.keyFillers[j]?.duckType ?? 'VARCHAR'}`).join(', ')})`,
    );
  }

  async flush(stage: TableStage): Promise<void> {
    const n = stage.size;
    if (n === 0) return;
    const { counts } = stage;
    // The full staging table holds the UPDATE rows, and the INSERT rows unless they go straight to
    // the target; DELETE rows go to the key-only one; rows folded away (OP_NONE) go nowhere.
    const staged = counts.update + (this.direct ? 0 : counts.insert);
    if (staged > 0) {
      const rows =
        staged === n
          ? n
          : indexesWhere(stage.ops, (op) => op === OP_UPDATE || (!this.direct && op === OP_INSERT));
      await this.appender.append(
        this.stageName,
        'temp',
        rows,
        [stage.ops, stage.masks, ...stage.oldKeys, ...stage.columns],
        this.stageFillers,
      );
    }
    // Each staged DELETE and UPDATE carries a distinct old key that the source had before the batch: a
    // replica equal to the source has exactly one row per key, so any other count is divergence.
    if (counts.delete > 0) {
      const rows = counts.delete === n ? n : indexesWhere(stage.ops, (op) => op === OP_DELETE);
      await this.appender.append(this.deletesName, 'temp', rows, stage.oldKeys, this.keyFillers);
      const r = await this.conn.run(this.sql.delete);
      this.check('DELETE', counts.delete, r.rowsChanged);
      // Emptied only after success: a failed DELETE leaves its rows to the sink's ROLLBACK (temp
      // tables are transactional, the Appender writes inside the open transaction).
      await this.conn.run(`DELETE FROM ${this.deletesRef}`);
    }
    if (counts.update > 0) {
      // counts.masked may count a row a later change of it made whole again (never the reverse):
      // it only spares the masked UPDATE when no row has a mask.
      const [whole, matched] = (await this.conn.runAndReadAll(this.sql.updateMatched)).getRows()[0] ?? [];
      let changed: number;
      if (Number(whole) === Number(matched)) {
        changed = (await this.conn.run(this.sql.updateDelete)).rowsChanged;
        if (counts.masked > 0) changed += await this.updateMasked(stage);
        await this.conn.run(this.sql.updateInsert);
      } else changed = (await this.conn.run(this.sql.updateAll)).rowsChanged;
      this.check('UPDATE', counts.update, changed);
    }
    if (counts.insert > 0) {
      if (this.direct) {
        const rows = counts.insert === n ? n : indexesWhere(stage.ops, (op) => op === OP_INSERT);
        await this.appender.append(
          this.target.table,
          this.target.catalog,
          rows,
          stage.columns,
          this.fillers,
          this.target.schema,
        );
      } else await this.conn.run(this.sql.insert);
    }
    if (staged > 0) await this.conn.run(`DELETE FROM ${this.stageRef}`);
    stage.clear();
  }

  /**
   * The UPDATEs whose image left columns out (unchanged TOAST), one statement per mask that sets only
   * the columns it carries: DuckDB keeps every value an UPDATE writes in memory until the commit, and
   * setting a kept column to itself held each row's large value there too (30k rows of 3 kB went past
   * a 48MB limit). A batch has few masks (which TOAST columns an UPDATE left alone); past MASKS_APART
   * the rest go through the one UPDATE that picks per row.
   */
  private async updateMasked(stage: TableStage): Promise<number> {
    const masks = new Set<string>();
    for (let i = 0; i < stage.ops.length; i++) {
      const m = stage.masks[i];
      if (stage.ops[i] === OP_UPDATE && m !== null && m !== undefined) masks.add(m);
    }
    if (masks.size > MASKS_APART) return (await this.conn.run(this.sql.updateMasked)).rowsChanged;
    let changed = 0;
    for (const mask of masks) {
      let sql = this.maskedSql.get(mask);
      if (sql === undefined) {
        sql = maskedUpdate(this.target, this.stageRef, this.keyMatch, mask);
        this.maskedSql.set(mask, sql);
      }
      changed += (await this.conn.run(sql)).rowsChanged;
    }
    return changed;
  }

  /** Gives the kept chunks back (native memory outside DuckDB's pool): the table was idle for a flush. */
  releaseChunks(): void {
    this.appender.release();
  }

  /**
   * Bulk insert of rows already in column arrays (the snapshot's COPY rows), in source text form:
   * values are prepared like streamed ones, then appended directly or through the staging table.
   * Runs inside the caller's DuckDB transaction; the arrays are left as they were.
   */
  async insertRows(stage: TableStage, columns: readonly (readonly Value[])[], count: number): Promise<void> {
    const prepared = columns.map((col, p) => {
      const out = new Array<Value>(count);
      for (let i = 0; i < count; i++) {
        const v = col[i] ?? null;
        out[i] = v === null ? null : stage.prepare(p, v);
      }
      return out;
    });
    if (this.direct) {
      await this.appender.append(
        this.target.table,
        this.target.catalog,
        count,
        prepared,
        this.fillers,
        this.target.schema,
      );
      return;
    }
    const ops = new Array<Value>(count).fill(OP_INSERT);
    const nulls = new Array<Value>(count).fill(null);
    await this.appender.append(
      this.stageName,
      'temp',
      count,
      [ops, nulls, ...this.target.key.map(() => nulls), ...prepared],
      this.stageFillers,
    );
    await this.conn.run(this.sql.insert);
    await this.conn.run(`DELETE FROM ${this.stageRef}`);
  }

  async truncate(): Promise<void> {
    await this.conn.run(`DELETE FROM ${this.target.name}`);
  }

  /** A leaf partition's TRUNCATE: delete the root's rows that its partition constraint says are its. */
  async truncatePart(leaf: LeafInfo | undefined): Promise<void> {
    const name = leaf ? shownName(leaf) : '?';
    if (!leaf?.constraint) {
      throw new StageError(
        `TRUNCATE of partition ${name}: its partition constraint is unknown, so walduck cannot tell which rows of ${shownName(this.target.source)} to delete`,
      );
    }
    try {
      await this.conn.run(`DELETE FROM ${this.target.name} WHERE ${leaf.constraint}`);
    } catch (err) {
      throw new StageError(
        `TRUNCATE of partition ${name}: DuckDB cannot evaluate its partition constraint ${leaf.constraint} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}), so walduck cannot tell which rows of ${shownName(this.target.source)} to delete`,
      );
    }
  }

  private check(what: 'DELETE' | 'UPDATE', expected: number, changed: number): void {
    if (changed !== expected) this.onMismatch({ target: this.target, what, expected, changed });
  }

  /** One UPDATE or DELETE on a keyless table (keyless-change.ts): it must change exactly one row. */
  async keylessChange(stage: TableStage, old: RowImage, row: RowImage | undefined): Promise<void> {
    const changed = await keylessRowChange(this.conn, this.target, stage, old, row);
    this.check(row ? 'UPDATE' : 'DELETE', 1, changed);
  }
}

/** An UPDATE or DELETE that touched another number of rows than the source did. */
export interface Mismatch {
  readonly target: TargetTable;
  readonly what: 'DELETE' | 'UPDATE';
  readonly expected: number;
  readonly changed: number;
}

function indexesWhere(ops: readonly string[], keep: (op: string) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < ops.length; i++) if (keep(ops[i] ?? '')) out.push(i);
  return out;
}
