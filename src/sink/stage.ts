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
// Memory: at most one staged row per change, and the sink flushes at --batch-rows.

import { WalduckError } from '../protocol/errors.js';
import type { RowImage, Value } from '../wal2json/change.js';
import type { TargetTable } from './target.js';

export const OP_INSERT = 'I';
export const OP_UPDATE = 'U';
export const OP_DELETE = 'D';
/** A row folded away (an insert later deleted): never sent to DuckDB. */
const OP_NONE = '-';

export class StageError extends WalduckError {
  override readonly name = 'StageError';
  readonly code = 'WALDUCK_APPLY';
  readonly phase = 'apply';
}

const KEY_SEP = '\u0000'; // PostgreSQL text never contains NUL, so joined key texts cannot collide.

export class TableStage {
  readonly ops: string[] = [];
  /** Presence mask of an UPDATE that omitted columns ('1' present, '0' keep stored); null = all present. */
  readonly masks: (string | null)[] = [];
  /** The key as stored in DuckDB before this batch (UPDATE and DELETE rows). */
  readonly oldKeys: Value[][];
  readonly columns: Value[][];
  /** Staged I/U row index by the row's current key text. */
  private readonly pending = new Map<string, number>();
  /** Whether `pending` is maintained (from the first UPDATE or DELETE of the batch on). */
  private keyed = false;
  private mapCache: { names: readonly string[]; positions: Int32Array } | undefined;
  counts = { insert: 0, update: 0, delete: 0, masked: 0 };
  private warnedNaN = new Set<number>();

  constructor(
    readonly target: TargetTable,
    private readonly warn: (msg: string) => void,
  ) {
    this.oldKeys = target.key.map(() => []);
    this.columns = target.mappings.map(() => []);
  }

  /** Characters of row text written into the stage since the last clear (what its arrays hold). */
  chars = 0;

  get size(): number {
    return this.ops.length;
  }

  clear(): void {
    this.ops.length = 0;
    this.masks.length = 0;
    for (const k of this.oldKeys) k.length = 0;
    for (const c of this.columns) c.length = 0;
    this.pending.clear();
    this.keyed = false;
    this.counts = { insert: 0, update: 0, delete: 0, masked: 0 };
    this.chars = 0;
  }

  insert(row: RowImage): void {
    const idx = this.pushRow(OP_INSERT, null);
    this.writeImage(idx, row);
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

  update(row: RowImage, old: RowImage | undefined): void {
    this.ensureKeyed();
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
    const idx = this.pushRow(OP_UPDATE, null);
    this.writeOldKey(idx, old ?? row);
    this.writeImage(idx, row);
    const mask = this.maskOf(row);
    this.masks[idx] = mask;
    if (mask !== null) this.counts.masked++;
    const newKey = this.keyOfStaged(idx);
    if (this.pending.has(newKey)) throw this.duplicate('UPDATE', newKey);
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
    const idx = this.pushRow(OP_DELETE, null);
    this.writeOldKey(idx, old);
    for (const c of this.columns) c[idx] = null;
    this.counts.delete++;
  }

  /** New rows start all NULL: a column an INSERT omits (an older row shape) stays NULL. */
  private pushRow(op: string, mask: string | null): number {
    const idx = this.ops.length;
    this.ops.push(op);
    this.masks.push(mask);
    for (const k of this.oldKeys) k.push(null);
    for (const c of this.columns) c.push(null);
    return idx;
  }

  /** Source column name -> target position, cached by array identity (decoders reuse name arrays). */
  private positions(names: readonly string[]): Int32Array {
    const cache = this.mapCache;
    if (cache && cache.names === names) return cache.positions;
    const positions = new Int32Array(names.length);
    for (let i = 0; i < names.length; i++) positions[i] = this.positionOf(names[i] ?? '');
    this.mapCache = { names, positions };
    return positions;
  }

  /** The target position of a source column; a column the target lacks means the source's DDL changed. */
  positionOf(name: string): number {
    const p = this.target.position.get(name);
    if (p === undefined) {
      throw new StageError(
        `column ${JSON.stringify(name)} of ${this.target.source.schema}.${this.target.source.table} is not in the DuckDB table: the source's DDL changed; alter the DuckDB table to match, then restart`,
      );
    }
    return p;
  }

  private writeImage(idx: number, row: RowImage): void {
    const positions = this.positions(row.names);
    const values = row.values;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i] ?? 0;
      const col = this.columns[p];
      const v = values[i] ?? null;
      if (v !== null) this.chars += v.length;
      if (col) col[idx] = this.prepare(p, v);
    }
  }

  /** The value as staged: NULL for a non-finite DECIMAL (warned once), arrays rewritten for DuckDB. */
  prepare(p: number, v: Value): Value {
    if (v === null) return null;
    const m = this.target.mappings[p];
    if (!m) return v;
    if (m.check === 'decimal' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity')) {
      this.storedAsNull(p, v);
      return null;
    }
    return m.pre ? m.pre(v) : v;
  }

  /** Says, once per column, that DECIMAL column `p` met `v` (NaN, ±Infinity) and stores NULL for it. */
  storedAsNull(p: number, v: string): void {
    if (this.warnedNaN.has(p)) return;
    this.warnedNaN.add(p);
    this.warn(
      `${this.target.source.schema}.${this.target.source.table}.${this.target.source.columns[p]?.name}: ${v} has no DuckDB DECIMAL form; stored as NULL (declare the column plain numeric to keep it as DOUBLE)`,
    );
  }

  private writeOldKey(idx: number, image: RowImage): void {
    const positions = this.positions(image.names);
    const key = this.target.key;
    for (let k = 0; k < key.length; k++) {
      const want = key[k] ?? 0;
      const found = this.indexIn(positions, want, image);
      const col = this.oldKeys[k];
      if (col) col[idx] = this.prepare(want, image.values[found] ?? null);
    }
  }

  private keyOfStaged(idx: number): string {
    let s = '';
    for (const k of this.target.key) s += `${this.columns[k]?.[idx] ?? '\u0001'}${KEY_SEP}`;
    return s;
  }

  private keyOfImage(image: RowImage): string {
    const positions = this.positions(image.names);
    let s = '';
    for (const want of this.target.key) {
      const found = this.indexIn(positions, want, image);
      s += `${this.prepare(want, image.values[found] ?? null) ?? '\u0001'}${KEY_SEP}`;
    }
    return s;
  }

  /** Where the image carries target column `want`; every key column must be there. */
  private indexIn(positions: Int32Array, want: number, image: RowImage): number {
    const found = positions.indexOf(want);
    if (found < 0) throw this.missingKey(image);
    return found;
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

  private missingKey(image: RowImage): StageError {
    const keyNames = this.target.key.map((k) => this.target.source.columns[k]?.name).join(', ');
    return new StageError(
      `a change to ${this.target.source.schema}.${this.target.source.table} lacks key column(s) ${keyNames} (got ${image.names.join(', ')}): the table's key or replica identity changed; restart walduck to re-read the catalog`,
    );
  }

  private duplicate(what: string, key: string): StageError {
    return new StageError(
      `${what} of an existing key (${key.split(KEY_SEP).slice(0, -1).join(', ')}) in ${this.target.source.schema}.${this.target.source.table} within one batch: the source would have refused it; the target key differs from the source's`,
    );
  }
}
