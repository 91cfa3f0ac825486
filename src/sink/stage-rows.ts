// The staged rows of a TableStage (stage.ts), as DuckDB will take them: one array per column (texts,
// or binary values where a typed fill knows the form), where a row image's values go by its shape, how
// a value is prepared for DuckDB or refused, and the characters the stage holds. Kept apart from the
// fold (stage.ts, which extends this class) so that each can be read alone: this side never decides
// which staged row a change lands on, only writes it.

import type { RowImage, Value } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { fits, type Need, needOf } from './exact-numeric.js';
import { TypedColumn } from './stage-column.js';
import { ColumnValueError, NON_FINITE_ADVICE, NonFiniteElementError, StageError } from './stage-errors.js';
import type { TargetTable } from './target.js';
import { fillerFor } from './typed-fill.js';

/**
 * What one staged value holds beyond its characters (a JS string's header and its array slot), in
 * characters: 100k rows of 50 short values kept ~200 MB of strings before the stage counted them.
 */
const VALUE_COST = 24;

/**
 * What one value held in binary form (stage-column.ts) counts for beyond its width, in characters
 * (a character of a staged string holds about a byte): its state byte. Such bytes are no work for
 * V8's collector, so only memory bounds them (about 4k rows of 50 columns per 2 MB).
 */
const TYPED_COST = 1;

/** A staged column: prepared texts, or (a non-key column with a typed fill) binary values. */
export type StagedColumn = Value[] | TypedColumn;

/** real, double precision and numeric: wal2json 2.5 prints their NaN and ±Infinity as JSON null. */
const NULL_WHEN_NON_FINITE = new Set(['float4', 'float8', 'numeric']);

/** A row image's column names and where each goes; `identity`: every target column, in its own place. */
interface Shape {
  readonly names: readonly string[];
  readonly positions: Int32Array;
  readonly identity: boolean;
  /** Key columns (target positions) the image lacks: an UPDATE left an out-of-line key unchanged. */
  readonly missingKeys: readonly number[];
}

export class StageRows {
  readonly ops: string[] = [];
  /** Presence mask of an UPDATE that omitted columns ('1' present, '0' keep stored); null = all present. */
  readonly masks: (string | null)[] = [];
  /**
   * The key as stored in DuckDB before this batch (UPDATE and DELETE rows), binary where the key
   * column has a typed fill: only the flush reads it (the fold looks rows up by the images' key
   * text), and a string per UPDATE and DELETE row held until the flush was work for V8's scavenges.
   */
  readonly oldKeys: StagedColumn[];
  readonly columns: StagedColumn[];
  /**
   * The last two column shapes seen, by array identity (decoders reuse name
   * arrays): an UPDATE brings two, its row's and its identity's (the old key), in turn; with one
   * entry each of them missed and rebuilt the map, twice per UPDATE.
   */
  private shapeA: Shape | undefined;
  private shapeB: Shape | undefined;
  /** The entry a miss replaces: the one not used last. */
  private evictA = true;
  /** Per column: NOT NULL at the source and of a type whose NaN wal2json prints as null. */
  private readonly nullMeansNonFinite: readonly boolean[];
  /** Some column is a DECIMAL that --numeric exact widens when a value does not fit. */
  readonly widens: boolean;

  constructor(readonly target: TargetTable) {
    this.oldKeys = target.key.map((k) => {
      const f = fillerFor(target.mappings[k]);
      return f ? new TypedColumn(f) : [];
    });
    // Key columns stay text: the fold (stage.ts) looks rows up by their key's text.
    const keyed = new Set(target.key);
    this.columns = target.mappings.map((m, p) => {
      const f = keyed.has(p) ? undefined : fillerFor(m);
      return f ? new TypedColumn(f) : [];
    });
    this.nullMeansNonFinite = target.source.columns.map(
      (c) => c.notNull && c.type.element === undefined && NULL_WHEN_NON_FINITE.has(c.type.typname),
    );
    this.widens = target.mappings.some((m) => m.exact !== undefined && m.exact.state !== 'text');
  }

  /**
   * Characters of row text written into the stage since the last clear, plus VALUE_COST per value:
   * what its arrays hold, so that a stage of many short values is flushed as one of long values is.
   */
  chars = 0;

  get size(): number {
    return this.ops.length;
  }

  clear(): void {
    this.ops.length = 0;
    this.masks.length = 0;
    for (const k of this.oldKeys) {
      if (k instanceof TypedColumn) k.clear();
      else k.length = 0;
    }
    for (const c of this.columns) {
      if (c instanceof TypedColumn) c.clear();
      else c.length = 0;
    }
    this.chars = 0;
  }

  /** An empty stage gives back the room its binary columns kept (TypedColumn.trim). */
  trim(): void {
    if (this.ops.length > 0) return;
    for (const k of this.oldKeys) if (k instanceof TypedColumn) k.trim();
    for (const c of this.columns) if (c instanceof TypedColumn) c.trim();
  }

  /** A new row of `op` (no old key yet), its columns from `row`. */
  protected pushImage(op: string, row: RowImage): void {
    const idx = this.ops.length;
    if (!this.shape(row.names).identity) {
      this.pushRow(op, null);
      this.writeImage(idx, row);
      return;
    }
    // The image holds every column in target order (the common case): push each prepared value
    // once, instead of a NULL per column and then the value over it.
    this.ops.push(op);
    this.masks.push(null);
    for (const k of this.oldKeys) {
      if (k instanceof TypedColumn) k.pushNull();
      else k.push(null);
    }
    const values = row.values;
    const columns = this.columns;
    try {
      for (let p = 0; p < columns.length; p++) {
        const col = columns[p];
        const v = values[p] ?? null;
        if (col instanceof TypedColumn) this.setTyped(col, p, idx, v);
        else {
          if (v !== null) this.chars += v.length + VALUE_COST;
          col?.push(this.prepare(p, v));
        }
      }
    } finally {
      // A value refused mid-row leaves the row as pushRow would: every column one entry longer.
      for (const c of columns) {
        if (c.length !== idx) continue;
        if (c instanceof TypedColumn) c.pushNull();
        else c.push(null);
      }
    }
  }

  /** New rows start all NULL: a column an INSERT omits (an older row shape) stays NULL. */
  protected pushRow(op: string, mask: string | null): number {
    const idx = this.ops.length;
    this.ops.push(op);
    this.masks.push(mask);
    const keys = this.oldKeys;
    for (let k = 0; k < keys.length; k++) {
      const c = keys[k];
      if (c instanceof TypedColumn) c.pushNull();
      else c?.push(null);
    }
    const columns = this.columns;
    for (let p = 0; p < columns.length; p++) {
      const c = columns[p];
      if (c instanceof TypedColumn) c.pushNull();
      else c?.push(null);
    }
    return idx;
  }

  /** Source column name -> target position, cached by array identity (decoders reuse name arrays). */
  protected positions(names: readonly string[]): Int32Array {
    return this.shape(names).positions;
  }

  protected shape(names: readonly string[]): Shape {
    const a = this.shapeA;
    if (a !== undefined && a.names === names) {
      this.evictA = false;
      return a;
    }
    const b = this.shapeB;
    if (b !== undefined && b.names === names) {
      this.evictA = true;
      return b;
    }
    const positions = new Int32Array(names.length);
    for (let i = 0; i < names.length; i++) positions[i] = this.positionOf(names[i] ?? '');
    const identity = positions.length === this.columns.length && positions.every((p, i) => p === i);
    const missingKeys = this.target.key.filter((k) => !positions.includes(k));
    const made = { names, positions, identity, missingKeys };
    if (this.evictA) this.shapeA = made;
    else this.shapeB = made;
    this.evictA = !this.evictA;
    return made;
  }

  /** The target position of a source column; a column the target lacks means the source's DDL changed. */
  positionOf(name: string): number {
    const p = this.target.position.get(name);
    if (p === undefined) {
      throw new StageError(
        `column ${shownIdent(name)} of ${shownName(this.target.source)} is not in the DuckDB table: the source's DDL changed; alter the DuckDB table to match, then restart`,
      );
    }
    return p;
  }

  protected writeImage(idx: number, row: RowImage): void {
    const positions = this.positions(row.names);
    const values = row.values;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i] ?? 0;
      const col = this.columns[p];
      const v = values[i] ?? null;
      if (col instanceof TypedColumn) this.setTyped(col, p, idx, v);
      else {
        if (v !== null) this.chars += v.length + VALUE_COST;
        if (col) col[idx] = this.prepare(p, v);
      }
    }
  }

  /**
   * A value into a binary column: in binary form when the filler knows its form (then `prepare` would
   * return it unchanged, see stage-column.ts), else prepared like every other staged text.
   */
  private setTyped(col: TypedColumn, p: number, idx: number, v: Value): void {
    if (v !== null && col.setBinary(idx, v)) {
      this.chars += col.width + TYPED_COST;
      return;
    }
    const prepared = this.prepare(p, v);
    if (prepared === null) col.setNull(idx);
    else {
      this.chars += prepared.length + VALUE_COST;
      col.setText(idx, prepared);
    }
  }

  protected writeOldKey(idx: number, image: RowImage): void {
    const positions = this.positions(image.names);
    const key = this.target.key;
    for (let k = 0; k < key.length; k++) {
      const want = key[k] ?? 0;
      const found = this.indexIn(positions, want, image);
      const col = this.oldKeys[k];
      const v = image.values[found] ?? null;
      // Counted in `chars` as the row's values are: a text key can be kilobytes (a btree entry up to
      // ~2.7 kB), and a batch of DELETEs holds nothing else.
      if (!(col instanceof TypedColumn)) {
        const prepared = this.prepare(want, v);
        if (prepared !== null) this.chars += prepared.length + VALUE_COST;
        if (col) col[idx] = prepared;
      } else this.setTyped(col, want, idx, v);
    }
  }

  /** Where the image carries target column `want`; every key column must be there. */
  protected indexIn(positions: Int32Array, want: number, image: RowImage): number {
    const found = positions.indexOf(want);
    if (found < 0) throw this.missingKey(image);
    return found;
  }

  /** The staged columns as text (the error path names the row a value of which DuckDB refused). */
  textColumns(): Value[][] {
    return this.columns.map((c) => (c instanceof TypedColumn ? c.allTexts() : c));
  }

  /**
   * The value as staged (arrays, BC dates and intervals rewritten for DuckDB); a value DuckDB cannot
   * hold throws ColumnValueError, never becomes another value.
   */
  prepare(p: number, v: Value): Value {
    if (v === null) {
      if (this.nullMeansNonFinite[p]) throw this.nullNotNull(p);
      return null;
    }
    const m = this.target.mappings[p];
    if (!m) return v;
    if (m.check === 'decimal' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity')) {
      throw new ColumnValueError(
        p,
        `a NaN or ±Infinity arrived for a ${m.duckType} column; ${NON_FINITE_ADVICE}`,
        {
          snippet: v,
          advised: true,
        },
      );
    }
    if (!m.pre) return v;
    try {
      return m.pre(v);
    } catch (err) {
      const snippet = (err as { snippet?: unknown }).snippet;
      throw new ColumnValueError(p, err instanceof Error ? err.message : String(err), {
        cause: err,
        ...(typeof snippet === 'string' ? { snippet } : {}),
        // Its line already says what to do (a NaN element of a DECIMAL list).
        advised: err instanceof NonFiniteElementError,
      });
    }
  }

  /**
   * wal2json 2.5 prints NaN and ±Infinity of real, double precision and numeric as JSON null. In a
   * column the source declares NOT NULL, a null can only be one of those: storing NULL would store
   * another value, and which of the three it was is lost.
   */
  private nullNotNull(p: number): ColumnValueError {
    const type = this.target.source.columns[p]?.declared ?? '';
    return new ColumnValueError(
      p,
      `wal2json sent null for a NOT NULL ${type} column: wal2json 2.5 prints NaN, Infinity and -Infinity of real, double precision and numeric as null, so the source holds one of them and walduck cannot tell which; it never stores another value: leave the table out of --tables, or replace the value on the source and start a new replica (new DuckDB file and slot)`,
      { advised: true },
    );
  }

  /**
   * The first value of `image` that does not fit its column's DECIMAL under --numeric exact (the sink
   * then widens the column before staging it), or undefined.
   */
  misfit(image: RowImage): { p: number; need: Need } | undefined {
    if (!this.widens) return undefined;
    const positions = this.positions(image.names);
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i] ?? 0;
      const exact = this.target.mappings[p]?.exact;
      const v = image.values[i] ?? null;
      if (exact === undefined || exact.state === 'text' || v === null) continue;
      const need = needOf(v);
      if (!fits(exact.state, need)) return { p, need };
    }
    return undefined;
  }

  private missingKey(image: RowImage): StageError {
    const keyNames = this.target.key
      .map((k) => shownIdent(this.target.source.columns[k]?.name ?? '?'))
      .join(', ');
    return new StageError(
      `a change to ${shownName(this.target.source)} lacks key column(s) ${keyNames} (got ${image.names.map(shownIdent).join(', ')}): the table's key or replica identity changed; restart walduck to re-read the catalog`,
    );
  }
}
