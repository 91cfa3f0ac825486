// Per-table staging of one batch, in JS, before it goes to DuckDB set-based.
//
// A flush applies the staged rows as three statements in a fixed order: DELETE (by old key), UPDATE
// (matched on old key), INSERT. That equals applying the changes in source order only if no key is
// touched twice, so when a change hits a key already staged, it is folded into the staged row here:
//
//   staged I(k)   + U(k->k2, r) = I(k2, merged)        staged I(k)   + D(k) = nothing
//   staged U(o->k)+ U(k->k2, r) = U(o->k2, merged)     staged U(o->k)+ D(k) = D(o)
//   staged D(k)   + I(k, r)     = D(k) and I(k, r)  (delete runs before insert: correct as staged)
//
// "merged": columns present in the later change override; a column the later UPDATE omits (an
// unchanged TOASTed value) keeps the earlier staged value, or, for an UPDATE of a row staged earlier
// in no form, the value stored in DuckDB (the UPDATE's per-row presence mask says which to keep).
// Memory: at most one staged row per change, and the sink flushes at --batch-changes.
//
// This file is the fold: which staged row a change lands on, by key. The class extends the staged
// rows themselves (stage-rows.ts: the column arrays, row shapes, values prepared for DuckDB).

import type { RowImage } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { TypedColumn } from './stage-column.js';
import { StageError } from './stage-errors.js';
import { StageRows } from './stage-rows.js';

export const OP_INSERT = 'I';
export const OP_UPDATE = 'U';
export const OP_DELETE = 'D';
/** A row folded away (an insert later deleted): never sent to DuckDB. */
const OP_NONE = '-';

// The stage's errors live in stage-errors.ts; re-exported here, where the sink's modules look for them.
export { ColumnValueError, NON_FINITE_ADVICE, StageError } from './stage-errors.js';
export type { StagedColumn } from './stage-rows.js';

const KEY_SEP = '\u0000'; // PostgreSQL text never contains NUL, so joined key texts cannot collide.

/** A staged row's key in the fold's map: see pendingKey. */
export type PendingKey = string | number;

/**
 * A one-column key's text as the fold's map key: a canonical integer of at most 9 digits as its
 * number, any other text as itself. V8 hashes and compares a small integer without reading a string
 * (the map was most of an UPDATE's staging time), and the map then holds no young string for the
 * scavenger to visit. Canonical integer texts ("0", "-?[1-9][0-9]*") and their numbers correspond
 * one to one, and a string never equals a number: two keys are equal exactly when their texts are.
 */
export function pendingKey(text: string): PendingKey {
  const n = text.length;
  const neg = text.charCodeAt(0) === 45;
  const from = neg ? 1 : 0;
  if (n - from < 1 || n - from > 9) return text;
  if (text.charCodeAt(from) === 48) return n === 1 ? 0 : text;
  let v = 0;
  for (let p = from; p < n; p++) {
    const d = text.charCodeAt(p) - 48;
    if (d < 0 || d > 9) return text;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

export class TableStage extends StageRows {
  /** Staged I/U row index by the row's current key text. */
  private readonly pending = new Map<PendingKey, number>();
  /** Whether `pending` is maintained (from the first UPDATE or DELETE of the batch on). */
  private keyed = false;
  counts = { insert: 0, update: 0, delete: 0, masked: 0 };

  override clear(): void {
    super.clear();
    this.pending.clear();
    this.keyed = false;
    this.counts = { insert: 0, update: 0, delete: 0, masked: 0 };
  }

  insert(row: RowImage): void {
    const idx = this.ops.length;
    this.pushImage(OP_INSERT, row);
    this.counts.insert++;
    // A keyless table is a multiset: identical rows are legal, and its updates and deletes never fold.
    // Until an UPDATE or DELETE arrives nothing can fold: keying every insert would be wasted work.
    if (this.target.keyless || !this.keyed) return;
    const key = this.keyOfStaged(idx);
    if (this.pending.has(key)) throw this.duplicate('INSERT', key);
    this.pending.set(key, idx);
  }

  /** Builds the key map of the rows staged so far, the first time an UPDATE or DELETE needs it. */
  private ensureKeyed(): void {
    if (this.keyed) return;
    this.keyed = true;
    for (let i = 0; i < this.ops.length; i++) {
      if (this.ops[i] !== OP_INSERT && this.ops[i] !== OP_UPDATE) continue;
      const key = this.keyOfStaged(i);
      if (this.pending.has(key)) throw this.duplicate('INSERT', key);
      this.pending.set(key, i);
    }
  }

  update(image: RowImage, old: RowImage | undefined): void {
    this.ensureKeyed();
    const row = old ? this.withOldKey(image, old) : image;
    const oldKey = old ? this.keyOfImage(old) : this.keyOfImage(row);
    const prior = this.pending.get(oldKey);
    if (prior !== undefined) {
      this.pending.delete(oldKey);
      this.writeImage(prior, row);
      const newKey = this.keyOfStaged(prior);
      if (this.pending.has(newKey)) throw this.duplicate('UPDATE', newKey);
      this.pending.set(newKey, prior);
      if (this.ops[prior] === OP_UPDATE) this.masks[prior] = this.mergeMask(this.masks[prior] ?? null, row);
      return;
    }
    const idx = this.ops.length;
    this.pushImage(OP_UPDATE, row);
    this.writeOldKey(idx, old ?? row);
    const mask = this.maskOf(row);
    this.masks[idx] = mask;
    if (mask !== null) this.counts.masked++;
    const newKey = this.keyOfStaged(idx);
    // The usual UPDATE keeps its key, which the lookup above found in no staged row.
    if (newKey !== oldKey && this.pending.has(newKey)) throw this.duplicate('UPDATE', newKey);
    this.pending.set(newKey, idx);
    this.counts.update++;
  }

  delete(old: RowImage): void {
    this.ensureKeyed();
    const key = this.keyOfImage(old);
    const prior = this.pending.get(key);
    if (prior !== undefined) {
      this.pending.delete(key);
      if (this.ops[prior] === OP_INSERT) {
        this.ops[prior] = OP_NONE;
        this.counts.insert--;
      } else {
        // The staged UPDATE's old key is what DuckDB holds: delete that.
        this.ops[prior] = OP_DELETE;
        this.masks[prior] = null;
        this.counts.update--;
        this.counts.delete++;
      }
      return;
    }
    // pushRow leaves the row's columns NULL: a DELETE carries only its old key.
    const idx = this.pushRow(OP_DELETE, null);
    this.writeOldKey(idx, old);
    this.counts.delete++;
  }

  /**
   * The new row with the key columns it omits taken from the old key. PostgreSQL leaves an unchanged
   * TOASTed value out of an UPDATE's new row, a key column too (a text key of a few kB is stored out of
   * line), and logs the old key for it: without this the staged row had no key, and a second such
   * UPDATE in the batch was refused as a duplicate of the first.
   */
  private withOldKey(row: RowImage, old: RowImage): RowImage {
    // Per shape, not per row: this runs for every UPDATE of the batch.
    const missing = this.shape(row.names).missingKeys;
    if (missing.length === 0) return row;
    const names = [...row.names];
    const types = [...row.types];
    const values = [...row.values];
    const from = this.positions(old.names);
    for (const k of missing) {
      const j = this.indexIn(from, k, old);
      names.push(old.names[j] ?? '');
      types.push(old.types[j] ?? '');
      values.push(old.values[j] ?? null);
    }
    return { names, types, values };
  }

  /** The key of a row image as PostgreSQL printed it, for error messages: (a, b) = ('1', 'x'). */
  describeKey(image: RowImage | undefined): string | undefined {
    if (!image) return undefined;
    const names: string[] = [];
    const values: string[] = [];
    for (const k of this.target.key) {
      const name = this.target.source.columns[k]?.name ?? '';
      const j = image.names.indexOf(name);
      if (j < 0) continue;
      names.push(shownIdent(name));
      const v = image.values[j] ?? null;
      values.push(v === null ? 'NULL' : JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v));
    }
    if (names.length === 0) return undefined;
    return `(${names.join(', ')}) = (${values.join(', ')})`;
  }

  // A one-column key (the usual primary key) is its value itself: no joined string to build and hash
  // per change. Several columns are joined with KEY_SEP.
  private keyOfStaged(idx: number): PendingKey {
    const key = this.target.key;
    if (key.length === 1) return pendingKey(this.keyText(key[0] ?? 0, idx));
    let s = '';
    for (const k of this.target.key) s += `${this.keyText(k, idx)}${KEY_SEP}`;
    return s;
  }

  /** A key column's staged text (key columns are never binary: see the constructor). */
  private keyText(k: number, idx: number): string {
    const col = this.columns[k];
    const v = col instanceof TypedColumn ? col.textAt(idx) : col?.[idx];
    return v ?? '\u0001';
  }

  private keyOfImage(image: RowImage): PendingKey {
    const positions = this.positions(image.names);
    const key = this.target.key;
    if (key.length === 1) {
      const want = key[0] ?? 0;
      return pendingKey(
        this.prepare(want, image.values[this.indexIn(positions, want, image)] ?? null) ?? '\u0001',
      );
    }
    let s = '';
    for (const want of this.target.key) {
      const found = this.indexIn(positions, want, image);
      s += `${this.prepare(want, image.values[found] ?? null) ?? '\u0001'}${KEY_SEP}`;
    }
    return s;
  }

  private maskOf(row: RowImage): string | null {
    if (row.names.length === this.columns.length) return null;
    const present = new Uint8Array(this.columns.length);
    for (const p of this.positions(row.names)) present[p] = 1;
    let mask = '';
    for (const b of present) mask += b ? '1' : '0';
    return mask;
  }

  private mergeMask(prior: string | null, row: RowImage): string | null {
    if (prior === null) return null;
    const present = Array.from(prior, (c) => c === '1');
    for (const p of this.positions(row.names)) present[p] = true;
    return present.every(Boolean) ? null : present.map((b) => (b ? '1' : '0')).join('');
  }

  private duplicate(what: string, key: PendingKey): StageError {
    const shown =
      typeof key === 'number'
        ? String(key)
        : this.target.key.length === 1
          ? key
          : key.split(KEY_SEP).slice(0, -1).join(', ');
    return new StageError(
      `${what} of an existing key (${shown}) in ${shownName(this.target.source)} within one batch: the source would have refused it; the target key differs from the source's`,
    );
  }
}
