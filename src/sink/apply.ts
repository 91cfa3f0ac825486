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
// by row (`rowid` of the first match); inserts still go in chunks.

import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import type { LeafInfo } from '../source/routing.js';
import type { RowImage, Value } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { DuckDBDataChunk, VARCHAR } from './duckdb-api.js';
import type { Filler } from './filler.js';
import { duckFold, quoteIdent, quoteLiteral } from './sql.js';
import { OP_DELETE, OP_INSERT, OP_UPDATE, type StagedColumn, StageError, type TableStage } from './stage.js';
import { TypedColumn } from './stage-column.js';
import type { TargetTable } from './target.js';
import { CHUNK_CAPACITY as CHUNK_ROWS, ColumnScratch, fillerFor, TEXT_FILLER } from './typed-fill.js';

/** Distinct masks in a batch above which the masked UPDATEs go as one statement that picks per row. */
const MASKS_APART = 8;

export class TableApplier {
  private readonly stageRef: string;
  /** The DELETE rows' staging table: the old key only. */
  private readonly deletesName: string;
  private readonly deletesRef: string;
  /** Every column converts by a plain cast: inserts go straight into the target through the Appender. */
  private readonly direct: boolean;
  private readonly sql: {
    delete: string;
    updateMasked: string;
    insert: string;
    updateDelete: string;
    updateInsert: string;
    updateMatched: string;
    updateAll: string;
  };
  /** Per target column: how its text fills a typed vector (typed-fill.ts), or undefined (VARCHAR). */
  private readonly fillers: readonly (Filler | undefined)[];
  /** The same for the staging table's columns: _op, _mask, the old key, then the row. */
  private readonly stageFillers: readonly (Filler | undefined)[];
  /** The key columns' fillers (the DELETE staging table's columns). */
  private readonly keyFillers: readonly (Filler | undefined)[];
  private readonly scratch = new Map<number, ColumnScratch>();
  /** The target row `t` a staged row `s` updates or deletes: its old key. */
  private readonly keyMatch: string;
  /** updateSetting's statement per mask, made once. */
  private readonly maskedSql = new Map<string, string>();
  /**
   * The last data chunk appended to each DuckDB table, kept for the next chunk of the same column
   * types: DuckDB keeps a reset chunk's vector buffers, where a new chunk allocates and the first
   * copies into it fault its pages in (~11% of the page faults of a 50-column run).
   */
  private readonly chunks = new Map<string, { types: DuckDBType[]; chunk: DuckDBDataChunk }>();

  constructor(
    private readonly conn: DuckDBConnection,
    readonly target: TargetTable,
    private readonly stageName: string,
    /** Told when an UPDATE or DELETE did not touch exactly the rows the source changed. */
    private readonly onMismatch: (m: Mismatch) => void,
  ) {
    this.stageRef = `temp.main.${quoteIdent(stageName)}`;
    this.deletesName = `${stageName}_d`;
    this.deletesRef = `temp.main.${quoteIdent(this.deletesName)}`;
    this.direct = target.mappings.every((m) => m.direct === true);
    this.fillers = target.mappings.map((m) => fillerFor(m));
    this.keyFillers = target.key.map((k) => this.fillers[k]);
    this.stageFillers = [TEXT_FILLER, TEXT_FILLER, ...this.keyFillers, ...this.fillers];
    const col = (i: number) => quoteIdent(target.source.columns[i]?.name ?? '');
    const conv = (i: number, ref: string) => target.mappings[i]?.convert(ref) ?? ref;
    // The target is `t` and the staged rows `s`: qualified by its own name, a target named s whose
    // columns include a staged one's name (_op, _c0…) was ambiguous to DuckDB's binder.
    const keyMatch = target.key.map((k, j) => `t.${col(k)} = ${conv(k, `s._k${j}`)}`).join(' AND ');
    this.keyMatch = keyMatch;
    const all = target.mappings.map((_, i) => i);
    // The staged rows `where` into the target, and an UPDATE of the target from the staged rows
    // `where`: a column the row's mask leaves out (unchanged TOAST) keeps its value.
    const insertWhere = (where: string) =>
      `INSERT INTO ${target.name} SELECT ${all.map((i) => conv(i, `_c${i}`)).join(', ')} FROM ${this.stageRef} WHERE ${where}`;
    const updateWhere = (where: string) =>
      `UPDATE ${target.name} AS t SET ${all
        .map(
          (i) =>
            `${col(i)} = CASE WHEN s._mask IS NULL OR substr(s._mask, ${i + 1}, 1) = '1' THEN ${conv(i, `s._c${i}`)} ELSE t.${col(i)} END`,
        )
        .join(', ')} FROM ${this.stageRef} s WHERE ${where} AND ${keyMatch}`;
    this.sql = {
      delete: `DELETE FROM ${target.name} AS t USING ${this.deletesRef} s WHERE ${keyMatch}`,
      // An UPDATE that carries the whole row goes in as DELETE of the old key, then INSERT: DuckDB
      // keeps what an UPDATE changes in memory until the commit (not spilled), so a large source
      // UPDATE ran out of --duckdb-memory-limit, on every restart; deleted rows are a mark each, and
      // inserted ones spill. Only an UPDATE whose image left columns out (unchanged TOAST) needs the
      // row's other values, read by the UPDATE below. Run in the order DELETE, masked UPDATE, INSERT:
      // a whole row's new key may be a masked row's old key (keys renumbered across transactions),
      // and inserted first it was matched by the masked UPDATE too.
      updateDelete: `DELETE FROM ${target.name} AS t USING ${this.stageRef} s WHERE s._op = '${OP_UPDATE}' AND s._mask IS NULL AND ${keyMatch}`,
      updateInsert: insertWhere(`_op = '${OP_UPDATE}' AND _mask IS NULL`),
      // Whether each whole-row UPDATE finds exactly its row: DELETE plus INSERT of a row DuckDB does
      // not hold (--no-snapshot, a hand edit) would add it, where an UPDATE changes nothing and the
      // divergence is said. Then all go through the one UPDATE below, as before.
      updateMatched: `SELECT count(*), count(t.${col(target.key[0] ?? 0)}) FROM ${this.stageRef} s LEFT JOIN ${target.name} AS t ON ${keyMatch} WHERE s._op = '${OP_UPDATE}' AND s._mask IS NULL`,
      updateAll: updateWhere(`s._op = '${OP_UPDATE}'`),
      updateMasked: updateWhere(`s._op = '${OP_UPDATE}' AND s._mask IS NOT NULL`),
      insert: insertWhere(`_op = '${OP_INSERT}'`),
    };
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
      await this.append(
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
      await this.append(this.deletesName, 'temp', rows, stage.oldKeys, this.keyFillers);
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
        await this.append(
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
        sql = this.updateSetting(mask);
        this.maskedSql.set(mask, sql);
      }
      changed += (await this.conn.run(sql)).rowsChanged;
    }
    return changed;
  }

  /** UPDATE of the staged rows with this mask, setting the columns it marks present. */
  private updateSetting(mask: string): string {
    const t = this.target;
    const col = (i: number) => quoteIdent(t.source.columns[i]?.name ?? '');
    const present = t.mappings.map((_, i) => i).filter((i) => mask[i] === '1');
    return `UPDATE ${t.name} AS t SET ${present
      .map((i) => `${col(i)} = ${t.mappings[i]?.convert(`s._c${i}`) ?? `s._c${i}`}`)
      .join(
        ', ',
      )} FROM ${this.stageRef} s WHERE s._op = '${OP_UPDATE}' AND s._mask = ${quoteLiteral(mask)} AND ${this.keyMatch}`;
  }

  /** Appends the given rows (all `n` first rows, or these indexes) of parallel column arrays in whole chunks. */
  private async append(
    table: string,
    catalog: string,
    rows: number | readonly number[],
    columns: readonly (readonly Value[] | StagedColumn)[],
    fillers: readonly (Filler | undefined)[],
    schema = 'main',
  ): Promise<void> {
    const total = typeof rows === 'number' ? rows : rows.length;
    if (total === 0) return;
    const appender = await this.conn.createAppender(table, schema, catalog);
    const types: DuckDBType[] = columns.map(() => VARCHAR);
    const filled: boolean[] = columns.map(() => false);
    const values: Value[][] = columns.map(() => []);
    try {
      for (let start = 0; start < total; start += CHUNK_ROWS) {
        const end = Math.min(total, start + CHUNK_ROWS);
        for (let c = 0; c < columns.length; c++) {
          const col = columns[c] ?? [];
          if (col instanceof TypedColumn) {
            // Staged in binary form: copied as it is, unless a value of this chunk is a text the
            // filler does not know (then the chunk's column goes as VARCHAR, its values as text).
            filled[c] = col.allBinary(rows, start, end);
            if (!filled[c]) values[c] = col.textRange(rows, start, end);
            types[c] = filled[c] ? col.filler.type : VARCHAR;
            continue;
          }
          const v = typeof rows === 'number' ? col.slice(start, end) : pick(col, rows, start, end);
          values[c] = v;
          // Typed when every value of this chunk's column is in the plain form its filler knows;
          // else VARCHAR, which the Appender casts exactly as before.
          const f = fillers[c];
          filled[c] = f !== undefined && this.scratchFor(c).fill(f, v);
          types[c] = f && filled[c] ? f.type : VARCHAR;
        }
        const chunk = this.chunkFor(table, types, end - start);
        for (let c = 0; c < columns.length; c++) {
          if (!filled[c]) chunk.setColumnValues(c, values[c] ?? []);
          else {
            const col = columns[c];
            if (col instanceof TypedColumn) col.copyTo(chunk, c, this.scratchFor(c), rows, start, end);
            else this.scratchFor(c).copyTo(chunk, c, fillers[c]?.bytes ?? 8, end - start);
          }
        }
        appender.appendDataChunk(chunk);
        // The appender copied the rows: free the chunk's string heap now, not at a GC that V8, blind
        // to native memory, may not run for hundreds of MB (issue 19).
        chunk.reset();
        // And the JS side's vectors, which hold the values given to setColumnValues (a 20 kB text's
        // string): kept with the chunk until its next use, they were ~20 MB more peak RSS.
        chunk.rowCount = 0;
        // A turn of the event loop between chunks: socket reads go on while a large batch is appended.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      appender.flushSync();
    } catch (err) {
      // A chunk an append failed on may hold this batch's validity bits: never reused.
      this.chunks.delete(table);
      throw err;
    } finally {
      appender.closeSync();
    }
  }

  /** Gives the kept chunks back (native memory outside DuckDB's pool): the table was idle for a flush. */
  releaseChunks(): void {
    this.chunks.clear();
  }

  /** A chunk of `rows` rows of these types for `table`: the kept one when its types match. */
  private chunkFor(table: string, types: readonly DuckDBType[], rows: number): DuckDBDataChunk {
    const kept = this.chunks.get(table);
    if (kept && kept.types.length === types.length && kept.types.every((t, i) => t === types[i])) {
      // reset() (after the last append) emptied it and freed its strings; DuckDB resets each vector
      // from its cache, validity all valid again, so no NULL of the last chunk stays.
      kept.chunk.rowCount = rows;
      return kept.chunk;
    }
    const chunk = DuckDBDataChunk.create(types, rows);
    this.chunks.set(table, { types: [...types], chunk });
    return chunk;
  }

  private scratchFor(c: number): ColumnScratch {
    let s = this.scratch.get(c);
    if (!s) {
      s = new ColumnScratch();
      this.scratch.set(c, s);
    }
    return s;
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
      await this.append(
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
    await this.append(
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

  /**
   * One UPDATE or DELETE on a keyless table: the first row equal (NULL-safe) to the old image. Values
   * are prepared as staged ones are (`stage.prepare`), so both paths store the same thing.
   */
  async keylessChange(stage: TableStage, old: RowImage, row: RowImage | undefined): Promise<void> {
    const t = this.target;
    // A column named rowid (DuckDB matches names case-insensitively) hides DuckDB's rowid, and there is
    // no other name for it: the statement below would match the column's values and change other rows.
    const hiding = t.source.columns.find((c) => duckFold(c.name) === 'rowid');
    if (hiding) {
      const name = shownName(t.source);
      throw new StageError(
        `${name} has no key and a column named ${shownIdent(hiding.name)}, which hides DuckDB's rowid, by which walduck changes one of several equal rows: an UPDATE or DELETE of it cannot be applied (nothing after it acknowledged); rename the column or give the table a primary key on the source, then replicate it into a new DuckDB file (a table without a key cannot be copied again online), or leave it out of --tables`,
      );
    }
    const params: Value[] = [];
    const param = (i: number, v: Value): string => {
      params.push(stage.prepare(i, v));
      return t.mappings[i]?.convert(`CAST($${params.length} AS VARCHAR)`) ?? '';
    };
    // With FULL identity the old image holds every column, except that format-version 1 leaves out
    // those whose old value was NULL (v2 lists them as null): an absent column matches NULL.
    const oldValues: Value[] = t.mappings.map(() => null);
    old.names.forEach((name, j) => {
      oldValues[stage.positionOf(name)] = old.values[j] ?? null;
    });
    const sets: string[] = [];
    if (row) {
      row.names.forEach((name, j) => {
        sets.push(`${quoteIdent(name)} = ${param(stage.positionOf(name), row.values[j] ?? null)}`);
      });
    }
    const match = t.source.columns
      .map((c, i) => `${quoteIdent(c.name)} IS NOT DISTINCT FROM ${param(i, oldValues[i] ?? null)}`)
      .join(' AND ');
    const which = `rowid = (SELECT rowid FROM ${t.name} WHERE ${match} LIMIT 1)`;
    const sql = row
      ? `UPDATE ${t.name} SET ${sets.join(', ')} WHERE ${which}`
      : `DELETE FROM ${t.name} WHERE ${which}`;
    const r = await this.conn.run(sql, params);
    this.check(row ? 'UPDATE' : 'DELETE', 1, r.rowsChanged);
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

function pick(col: readonly Value[], rows: readonly number[], start: number, end: number): Value[] {
  const out = new Array<Value>(end - start);
  for (let i = start; i < end; i++) out[i - start] = col[rows[i] ?? 0] ?? null;
  return out;
}
