// The v2 column fast path. wal2json prints every column of a row image as one object,
//   {"name":"id","type":"bigint","typeoid":20,"value":1}
// and for consecutive rows of a table everything before the value is the same bytes. So a table's
// image slot keeps, per column, the bytes from its '{' through `"value":` as read from a row parsed
// the plain way. A later row whose column starts with exactly those bytes has exactly that column's
// name, type and type OID: the same bytes parse the same. Then only its value is read: no key is
// looked at, no name or type compared, no OID parsed. Any difference (a type changed, a column
// omitted, other whitespace, keys in another order) sends that column and the rest of the row back to
// the plain parse, which records the row's prefixes anew.
//
// Only a column whose prefix held one "name", at most one "type" and one "typeoid" and nothing else,
// then "value", is recorded, and all columns of a row must hold the same keys (walduck does not ask
// for type OIDs; other callers may): a row with any other column records nothing, and the next row of
// the table is read the plain way. The prefixes are stored with the names, types and type OIDs they
// were read with (ImageBuilder.finish sets all four together), which is what makes a match mean
// equality.

import type { RecordedBytes } from './json-reader.js';

/** Bytes kept from a payload (a copy), with the DataView JsonReader.skipIfNext compares through. */
export class Printed implements RecordedBytes {
  readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/** A v2 "pk" array's bytes as last read for a table, and the names they gave. */
export class PrintedPk extends Printed {
  constructor(
    bytes: Uint8Array,
    readonly names: readonly string[],
  ) {
    super(bytes);
  }
}

/** The prefixes of one row image, column by column: column i is bytes[ends[i-1] (or 0) .. ends[i]). */
export class ColumnPrefixes extends Printed {
  constructor(
    bytes: Uint8Array,
    readonly ends: Int32Array,
    /** The keys every column's prefix holds, one bit each (v2.ts: NAME, TYPE, OID). */
    readonly keys: number,
  ) {
    super(bytes);
  }

  get count(): number {
    return this.ends.length;
  }

  start(i: number): number {
    return i === 0 ? 0 : (this.ends[i - 1] as number);
  }
}

/** Collects the prefixes of the row being read (one per decoder: reading is not reentrant). */
export class PrefixRecorder {
  private readonly sources: Uint8Array[] = [];
  private readonly froms: number[] = [];
  private readonly tos: number[] = [];
  /** Columns 0..reused-1 were matched against `known` (their prefixes are known's). */
  private reused = 0;
  private known: ColumnPrefixes | undefined;
  /** false once a column could not be recorded: the row gives no prefixes. */
  private ok = true;
  /** The keys the recorded columns' prefixes hold (-1: none recorded yet). */
  private keys = -1;

  start(known: ColumnPrefixes | undefined): void {
    this.known = known;
    this.reused = 0;
    this.ok = true;
    this.keys = -1;
    if (this.sources.length > 0) this.clear();
  }

  /** Column `reused` matched known's prefix (columns are matched in order, from the first). */
  matched(): void {
    this.reused++;
    this.keys = (this.known as ColumnPrefixes).keys;
  }

  /**
   * The next column's prefix is `src[from..to)` (a view: copied in finish, while it is valid), holding
   * the keys `keys`; a column holding other keys than the row's others makes the row give none.
   */
  add(src: Uint8Array, from: number, to: number, keys: number): void {
    if (!this.ok) return;
    if (this.keys !== -1 && this.keys !== keys) {
      this.miss();
      return;
    }
    this.keys = keys;
    this.sources.push(src);
    this.froms.push(from);
    this.tos.push(to);
  }

  /** The next column had no recordable prefix. */
  miss(): void {
    this.ok = false;
    if (this.sources.length > 0) this.clear();
  }

  /** The prefixes of a row of `count` columns, or undefined if some column had none. */
  finish(count: number): ColumnPrefixes | undefined {
    const known = this.known;
    const reused = this.reused;
    this.known = undefined;
    if (!this.ok || reused + this.sources.length !== count) {
      if (this.sources.length > 0) this.clear();
      return undefined;
    }
    if (this.sources.length === 0 && known !== undefined && known.count === count) return known;
    const knownBytes = reused === 0 || known === undefined ? 0 : known.start(reused);
    let total = knownBytes;
    for (let k = 0; k < this.sources.length; k++)
      total += (this.tos[k] as number) - (this.froms[k] as number);
    const bytes = new Uint8Array(total);
    const ends = new Int32Array(count);
    if (known !== undefined && reused > 0) {
      bytes.set(known.bytes.subarray(0, knownBytes));
      ends.set(known.ends.subarray(0, reused));
    }
    let at = knownBytes;
    for (let k = 0; k < this.sources.length; k++) {
      const src = this.sources[k] as Uint8Array;
      const from = this.froms[k] as number;
      const to = this.tos[k] as number;
      bytes.set(src.subarray(from, to), at);
      at += to - from;
      ends[reused + k] = at;
    }
    this.clear();
    return new ColumnPrefixes(bytes, ends, this.keys);
  }

  private clear(): void {
    this.sources.length = 0;
    this.froms.length = 0;
    this.tos.length = 0;
  }
}
