// A staged column held in its DuckDB binary form (issue 19): a value is parsed by its column's filler
// (typed-fill.ts) when it is staged, so the stage keeps 2 to 16 bytes per value instead of a JS string
// until the flush, and the flush copies whole ranges into the vector. 100k rows of 50 columns held 5M
// strings that V8 copied at every scavenge, and were then parsed at the flush anyway.
//
// A value the filler does not know (BC, infinity, a long or non-ASCII text...) is kept as its prepared
// text, as every value was before. A chunk with such a value goes as VARCHAR, as before (a text
// column's chunks excepted, below): its binary values are then printed back (textAt) in a form
// DuckDB's cast reads as the same value, checked by the property test
// test/property/sink/typed-fill.test.ts against DuckDB itself.
//
// Invariant the stage relies on: a text the filler accepts is one the column's `prepare` returns
// unchanged and never refuses (the filler knows only plain forms), so accepting skips `prepare`.
//
// A text column's values too long (or not ASCII) for an inline string_t are kept as UTF-8 bytes in
// the column's own heap, not as JS strings: a string kept until its batch is written survives the
// scavenges on the way and is copied at each (garbage collection was the main thread's largest item
// on 100-row transactions), and DuckDB's VARCHAR vector needs the bytes anyway. At the flush each goes
// into the vector by one copy of its bytes; texts over HEAP_MAX stay strings, assigned one by one.
//
// This class is the stage's side: how a value is set and held. The flush's side, copying the rows
// into DuckDB's vectors, is TypedColumn (stage-column.ts), which extends it: one object as before, the
// per-value methods still called on the column itself with nothing between; the two files only say
// which side holds which.

import { InternalError } from '../protocol/errors.js';
import type { Value } from '../wal2json/change.js';
import type { Filler } from './filler.js';
import { formatterOf } from './filler-print.js';
import { CHUNK_CAPACITY } from './typed-fill.js';

export const NULL = 0;
const BINARY = 1;
export const TEXT = 2;
/** UTF-8 bytes in the heap; the row's slot is an empty inline string_t, then length and offset. */
export const HEAP = 3;

/**
 * Longer texts of a text column stay JS strings, assigned one by one at the flush: V8 keeps each in
 * one allocation (a scavenge moves it whole), and a copy into the heap then cost more than it saved
 * (10k × 20 kB values: +6% CPU, +20% page faults, paired runs).
 */
const HEAP_MAX = 1024;

/** Rows a column has room for before its first growth: a table that is never written holds little. */
const INITIAL_ROWS = 64;

export class StagedValues {
  protected data: ArrayBuffer;
  private view: DataView;
  protected bytes: Uint8Array;
  /** Per row: NULL, BINARY or TEXT. */
  protected state: Uint8Array;
  /** The prepared text of TEXT rows (sparse; made at the first one). */
  private texts: (string | undefined)[] | undefined;
  /** Rows in TEXT state: none (the usual case) lets a range skip looking. */
  protected textRows = 0;
  /** A text column (the inline string_t filler): its long texts go to `heap` instead of `texts`. */
  protected readonly heaped: boolean;
  private heap: Buffer | undefined;
  private heapUsed = 0;
  /** Rows in HEAP state. */
  protected heapRows = 0;
  length = 0;
  private readonly format: (view: DataView, i: number) => string;
  /**
   * The filler's width and parser as own fields: read per value, and fillers are objects of several
   * shapes, so `filler.write` was a megamorphic load (V8's generic LoadIC) at every value.
   */
  readonly width: number;
  private readonly write: Filler['write'];

  constructor(readonly filler: Filler) {
    this.width = filler.bytes;
    this.write = filler.write;
    this.data = new ArrayBuffer(INITIAL_ROWS * filler.bytes);
    this.view = new DataView(this.data);
    this.bytes = new Uint8Array(this.data);
    this.state = new Uint8Array(INITIAL_ROWS);
    this.format = formatterOf(filler);
    this.heaped = filler.duckType === 'VARCHAR';
  }

  /**
   * Empty again, its room kept: a table written in this batch is likely written in the next, and
   * growing back from one chunk each batch allocated (zeroed) and copied every column's buffers again,
   * 2048 to 8192 rows twice per batch on 50-column rows. trim() gives the room back once a batch
   * passes without the table (the sink calls it), and a batch using under a quarter of it shrinks it.
   */
  clear(): void {
    const used = this.length;
    this.length = 0;
    this.textRows = 0;
    this.texts = undefined;
    this.heapRows = 0;
    // The heap follows the rows' rule: a batch that used under a quarter of it lets it go (the next
    // long text allocates what it needs).
    if (this.heap !== undefined && this.heapUsed * 4 < this.heap.length) this.heap = undefined;
    this.heapUsed = 0;
    // A batch that used under a quarter of the room: the room shrinks to it (one chunk at least), so a
    // table written in every flush keeps what its recent batches need, not its largest one's.
    if (used * 4 < this.state.length) this.shrink(used);
  }

  /** Room for one DuckDB chunk at most: a table idle for a batch keeps little, whatever it held. */
  trim(): void {
    if (this.length === 0) {
      this.shrink(0);
      this.heap = undefined;
    }
  }

  /** Room for `rows` (a power of two times one chunk), when that is less than it has; empty only. */
  private shrink(rows: number): void {
    let cap = CHUNK_CAPACITY;
    while (cap < rows) cap *= 2;
    if (cap >= this.state.length) return;
    this.data = new ArrayBuffer(cap * this.width);
    this.view = new DataView(this.data);
    this.bytes = new Uint8Array(this.data);
    this.state = new Uint8Array(cap);
  }

  /** Room for row `idx`. */
  private grow(idx: number): void {
    let cap = this.state.length;
    while (cap <= idx) cap *= 2;
    const data = new ArrayBuffer(cap * this.width);
    const bytes = new Uint8Array(data);
    bytes.set(this.bytes.subarray(0, this.length * this.width));
    this.data = data;
    this.view = new DataView(data);
    this.bytes = bytes;
    const state = new Uint8Array(cap);
    state.set(this.state.subarray(0, this.length));
    this.state = state;
  }

  /** Makes row `idx` exist (rows between the old length and it are NULL). */
  private reach(idx: number): void {
    if (idx >= this.state.length) this.grow(idx);
    for (let i = this.length; i <= idx; i++) this.zero(i);
    if (idx >= this.length) this.length = idx + 1;
  }

  /** NULL, with zero bytes: DuckDB ignores a NULL row's bytes, but the vector holds no stale value. */
  private zero(idx: number): void {
    this.state[idx] = NULL;
    // A few stores, not TypedArray#fill: its call cost more than the 1 to 16 bytes it clears.
    const v = this.view;
    const at = idx * this.width;
    const w = this.width;
    if (w >= 4) for (let b = 0; b < w; b += 4) v.setUint32(at + b, 0);
    else if (w === 2) v.setUint16(at, 0);
    else v.setUint8(at, 0);
  }

  pushNull(): void {
    const idx = this.length;
    if (idx >= this.state.length) this.grow(idx);
    this.zero(idx);
    this.length = idx + 1;
  }

  setNull(idx: number): void {
    if (idx >= this.length) {
      this.reach(idx);
      return;
    }
    this.leave(idx);
    this.zero(idx);
  }

  /** Row `idx` := `text` in binary form, if the filler knows the form; false (row unchanged) else. */
  setBinary(idx: number, text: string): boolean {
    if (idx < this.length) {
      if (!this.write(this.view, idx, text)) return false;
      this.leave(idx);
      this.state[idx] = BINARY;
      return true;
    }
    // A new row (the usual case: rows are staged in order): no NULL written first.
    if (idx >= this.state.length) this.grow(idx);
    if (!this.write(this.view, idx, text)) return false;
    for (let i = this.length; i < idx; i++) this.zero(i);
    this.length = idx + 1;
    this.state[idx] = BINARY;
    return true;
  }

  /** Row `idx` := a prepared text the filler does not know. */
  setText(idx: number, text: string): void {
    if (idx >= this.length) this.reach(idx);
    this.leave(idx);
    if (this.heaped && text.length <= HEAP_MAX) {
      this.setHeap(idx, text);
      return;
    }
    this.state[idx] = TEXT;
    // Sized up front: a first text far into the batch would otherwise make a sparse (slow) array.
    if (this.texts === undefined) this.texts = new Array<string | undefined>(this.state.length);
    this.texts[idx] = text;
    this.textRows++;
  }

  private setHeap(idx: number, text: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units).
    const need = this.heapUsed + text.length * 3;
    let heap = this.heap;
    if (heap === undefined || heap.length < need) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * (heap?.length ?? 0), 64 * 1024));
      heap?.copy(grown, 0, 0, this.heapUsed);
      heap = grown;
      this.heap = grown;
    }
    const n = heap.write(text, this.heapUsed);
    const at = idx * 16;
    const v = this.view;
    // An empty inline string_t (length 0) as far as DuckDB is concerned, until copyTo assigns it.
    v.setUint32(at, 0, true);
    v.setUint32(at + 4, 0, true);
    v.setUint32(at + 8, n, true);
    v.setUint32(at + 12, this.heapUsed, true);
    this.heapUsed += n;
    this.state[idx] = HEAP;
    this.heapRows++;
  }

  /** The UTF-8 bytes of HEAP row `idx`. */
  protected heapBytes(idx: number): Buffer {
    const at = idx * 16;
    const off = this.view.getUint32(at + 12, true);
    return (this.heap as Buffer).subarray(off, off + this.view.getUint32(at + 8, true));
  }

  private leave(idx: number): void {
    const s = this.state[idx];
    if (s === TEXT && this.texts !== undefined) {
      this.texts[idx] = undefined;
      this.textRows--;
    } else if (s === HEAP) this.heapRows--;
  }

  /** The value of row `idx` as staged text (diagnostics and VARCHAR chunks): null, the text, or the binary printed. */
  textAt(idx: number): Value {
    const s = this.state[idx];
    if (s === NULL || idx >= this.length) return null;
    if (s === TEXT) {
      const t = this.texts?.[idx];
      // A TEXT row always has its text (setText): a missing one would be a silent NULL.
      if (t === undefined) throw new InternalError('apply', `staged text of row ${idx} is missing`);
      return t;
    }
    if (s === HEAP) return this.heapBytes(idx).toString('utf8');
    return this.format(this.view, idx);
  }

  /** The rows [0, length) as text (diagnostics only). */
  allTexts(): Value[] {
    const out = new Array<Value>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.textAt(i);
    return out;
  }
}
