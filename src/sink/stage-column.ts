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

import type { DuckDBDataChunk } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import type { Value } from '../wal2json/change.js';
import { bindings } from './duckdb-api.js';
import type { Filler } from './filler.js';
import { civilFromDays } from './pg-temporal.js';
import { CHUNK_CAPACITY, type ColumnScratch } from './typed-fill.js';

const NULL = 0;
const BINARY = 1;
const TEXT = 2;
/** UTF-8 bytes in the heap; the row's slot is an empty inline string_t, then length and offset. */
const HEAP = 3;

/**
 * Longer texts of a text column stay JS strings, assigned one by one at the flush: V8 keeps each in
 * one allocation (a scavenge moves it whole), and a copy into the heap then cost more than it saved
 * (10k × 20 kB values: +6% CPU, +20% page faults, paired runs).
 */
const HEAP_MAX = 1024;

/** Rows a column has room for before its first growth: a table that is never written holds little. */
const INITIAL_ROWS = 64;

export class TypedColumn {
  private data: ArrayBuffer;
  private view: DataView;
  private bytes: Uint8Array;
  /** Per row: NULL, BINARY or TEXT. */
  private state: Uint8Array;
  /** The prepared text of TEXT rows (sparse; made at the first one). */
  private texts: (string | undefined)[] | undefined;
  /** Rows in TEXT state: none (the usual case) lets a range skip looking. */
  private textRows = 0;
  /** A text column (the inline string_t filler): its long texts go to `heap` instead of `texts`. */
  private readonly heaped: boolean;
  private heap: Buffer | undefined;
  private heapUsed = 0;
  /** Rows in HEAP state. */
  private heapRows = 0;
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
  private heapBytes(idx: number): Buffer {
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

  /** Whether every row of these (rows [start, end), or rows[start..end)) is NULL or binary. */
  allBinary(rows: number | readonly number[], start: number, end: number): boolean {
    // A text column's texts go into the vector one by one (heapTo), never as a VARCHAR chunk.
    if (this.textRows === 0 || this.heaped) return true;
    for (let k = start; k < end; k++) {
      const i = typeof rows === 'number' ? k : (rows[k] ?? 0);
      if (this.state[i] === TEXT) return false;
    }
    return true;
  }

  /**
   * Rows [start, end) (or rows[start..end)) into column `c` of `chunk`: a range is copied from here in
   * one call, picked rows through `scratch`. The caller checked allBinary.
   */
  copyTo(
    chunk: DuckDBDataChunk,
    c: number,
    scratch: ColumnScratch,
    rows: number | readonly number[],
    start: number,
    end: number,
  ): void {
    const w = this.width;
    if (typeof rows !== 'number') {
      const src = this.bytes;
      const dst = new Uint8Array(scratch.data);
      // Byte by byte (a value is 1 to 16 bytes): a subarray per picked row was an object per row.
      for (let k = 0; k < end - start; k++) {
        const from = (rows[start + k] ?? 0) * w;
        const to = k * w;
        for (let b = 0; b < w; b++) dst[to + b] = src[from + b] as number;
      }
      this.validityOf(scratch, rows, start, end);
      scratch.copyTo(chunk, c, w, end - start);
      this.heapTo(chunk, c, rows, start, end);
      return;
    }
    this.validityOf(scratch, rows, start, end);
    const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
    bindings.copy_data_to_vector(vector, 0, this.data, start * w, (end - start) * w);
    if (scratch.hasNull) {
      bindings.vector_ensure_validity_writable(vector);
      bindings.copy_data_to_vector_validity(
        vector,
        0,
        scratch.validity.buffer,
        0,
        Math.ceil((end - start) / 64) * 8,
      );
    }
    this.heapTo(chunk, c, rows, start, end);
  }

  /**
   * The HEAP and TEXT rows among these into column `c` of `chunk` (copied as empty strings): their
   * bytes, or their JS strings.
   */
  private heapTo(
    chunk: DuckDBDataChunk,
    c: number,
    rows: number | readonly number[],
    start: number,
    end: number,
  ): void {
    if (this.heapRows === 0 && this.textRows === 0) return;
    const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
    for (let k = start; k < end; k++) {
      const i = typeof rows === 'number' ? k : (rows[k] ?? 0);
      const s = this.state[i];
      if (s === HEAP) bindings.vector_assign_string_element_len(vector, k - start, this.heapBytes(i));
      else if (s === TEXT) {
        const text = this.textAt(i);
        if (text !== null) bindings.vector_assign_string_element(vector, k - start, text);
      }
    }
  }

  /** The validity bits of these rows into `scratch` (hasNull says whether any is NULL). */
  private validityOf(
    scratch: ColumnScratch,
    rows: number | readonly number[],
    start: number,
    end: number,
  ): void {
    const n = end - start;
    let hasNull = false;
    for (let k = 0; k < n; k++) {
      const i = typeof rows === 'number' ? start + k : (rows[start + k] ?? 0);
      if (this.state[i] !== NULL) continue;
      if (!hasNull) {
        hasNull = true;
        scratch.validity.fill(0xff);
      }
      scratch.validity[k >> 3] = (scratch.validity[k >> 3] ?? 0) & ~(1 << (k & 7));
    }
    scratch.hasNull = hasNull;
  }

  /** Rows [start, end) (or rows[start..end)) as text, for a chunk that goes as VARCHAR. */
  textRange(rows: number | readonly number[], start: number, end: number): Value[] {
    const out = new Array<Value>(end - start);
    for (let k = start; k < end; k++)
      out[k - start] = this.textAt(typeof rows === 'number' ? k : (rows[k] ?? 0));
    return out;
  }
}

const pad = (n: number | bigint, w: number) => String(n).padStart(w, '0');

function dateText(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

const MICROS_PER_DAY = 86_400_000_000n;

function timestampText(micros: bigint, zone: string): string {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const r = Number(rest);
  const secs = Math.floor(r / 1_000_000);
  const frac = r % 1_000_000;
  const h = Math.floor(secs / 3600);
  const mi = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  return `${dateText(Number(days))} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(frac, 6)}${zone}`;
}

function decimalText(scaled: bigint, scale: number): string {
  const neg = scaled < 0n;
  const digits = pad(neg ? -scaled : scaled, scale + 1);
  const cut = digits.length - scale;
  const body = scale === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return neg ? `-${body}` : body;
}

const DECIMAL_SCALE = /^DECIMAL\(\d+,(\d+)\)$/;

/** How a filler's binary value is printed back as text DuckDB's cast reads as the same value. */
function formatterOf(f: Filler): (view: DataView, i: number) => string {
  switch (f.duckType) {
    case 'SMALLINT':
      return (v, i) => String(v.getInt16(i * 2, true));
    case 'INTEGER':
      return (v, i) => String(v.getInt32(i * 4, true));
    case 'BIGINT':
      return (v, i) => String(v.getBigInt64(i * 8, true));
    case 'BOOLEAN':
      return (v, i) => (v.getUint8(i) ? 'true' : 'false');
    case 'DOUBLE':
      // JS prints the shortest text that reads back as the same double; DuckDB reads it correctly rounded.
      return (v, i) => {
        const d = v.getFloat64(i * 8, true);
        return Object.is(d, -0) ? '-0' : String(d);
      };
    case 'DATE':
      return (v, i) => dateText(v.getInt32(i * 4, true));
    case 'TIMESTAMP':
      return (v, i) => timestampText(v.getBigInt64(i * 8, true), '');
    case 'TIMESTAMPTZ':
      return (v, i) => timestampText(v.getBigInt64(i * 8, true), '+00');
    case 'VARCHAR':
      // Inline string_t: length, then at most 12 ASCII bytes (all the inline filler accepts).
      return (v, i) => {
        const at = i * 16;
        const n = v.getUint32(at, true);
        let s = '';
        for (let k = 0; k < n; k++) s += String.fromCharCode(v.getUint8(at + 4 + k));
        return s;
      };
    default: {
      const m = DECIMAL_SCALE.exec(f.duckType);
      if (!m) throw new InternalError('apply', `no text form for filler ${f.duckType}`);
      const scale = Number(m[1]);
      if (f.bytes === 2) return (v, i) => decimalText(BigInt(v.getInt16(i * 2, true)), scale);
      if (f.bytes === 4) return (v, i) => decimalText(BigInt(v.getInt32(i * 4, true)), scale);
      return (v, i) => decimalText(v.getBigInt64(i * 8, true), scale);
    }
  }
}
