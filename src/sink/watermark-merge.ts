// The watermark merge of an online copy (Netflix's DBLog, Debezium's incremental snapshots), as a pure
// state machine: no I/O. The copier (replicator/online-copy.ts) reads one table in key chunks on an
// ordinary connection while the stream keeps running; this decides, change by change, what reaches
// DuckDB, and which chunk rows are written when a chunk's high watermark arrives.
//
// The ordering it relies on:
//   - Changes reach the stream in commit order. The watermarks are logical messages each committed in
//     a transaction of its own (pg_logical_emit_message(true, …): see online-copy.ts for why not the
//     non-transactional kind), so they too take their place at their commit.
//   - Per chunk the copier (1) commits the low watermark L, (2) runs the chunk SELECT in its own READ
//     COMMITTED statement, so its snapshot S is taken after L committed, (3) commits the high watermark
//     H after the SELECT returned, so after S.
//   - A transaction that committed before S is visible to the SELECT and its commit is in WAL before
//     H; one still open at S commits after S: before H (then it is in the window) or after H (it reaches the stream after H and is applied on top of
//     the written chunk, as for any row already copied).
//   - So between L and H (the window) come exactly the transactions that may or may not be in the
//     chunk: for every key such a change touches, the chunk's row is dropped and the change's own row
//     image (what the key holds after the window's changes) is written instead. Untouched chunk rows
//     are what the source held at S and still holds at H.
//
// The invariant, at every point of the stream: DuckDB holds exactly the source's rows whose key is at
// or below the copied-so-far key W (`progress`), and no row above it. Hence DBLog's rule outside a
// window: a change to a key at or below W is applied as usual; one above W is dropped (a later chunk's
// SELECT reads its result). A key change crossing W becomes a delete (moving above) or an insert
// (moving below). A TRUNCATE empties DuckDB (the sink applies it: every row there is at or below W)
// and, inside a window, every chunk row read before it.
//
// At H the chunk (keys in (W, M], M its last key; no bound for a short, last chunk) is written and W
// becomes M, in the DuckDB transaction that covers H, with the progress beside it (copy-state.ts): a
// kill -9 before that commit replays the stream from the last commit with the old W, and the copier
// emits a fresh low watermark for the chunk. Watermarks carry the copy's run id, so those of an earlier
// run (replayed from WAL) are ignored and a chunk is never written twice.
//
// A row image can lack columns: wal2json leaves an unchanged TOASTed value out of an UPDATE. Inside a
// window such a column is taken from the chunk row of the same key (the UPDATE did not change it, so
// the chunk row holds it whether S came before or after). Where that cannot be known (a key-changing
// UPDATE, or no chunk row), the chunk is written only below that key and the next chunk starts there.
// Outside a window, a partial row moving below W cannot be completed at all: that stops the run.

import { WalduckError } from '../protocol/errors.js';
import type { Delete, Insert, RowImage, Update, Value } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';

/** A key's column values as PostgreSQL prints them (never NULL: key columns are NOT NULL). */
export type KeyValues = readonly string[];
/** Orders keys exactly as the chunk SELECT's ORDER BY does (source/key-order.ts builds both). */
export type KeyCompare = (a: KeyValues, b: KeyValues) => number;
/** A whole row, one value per table column, in column order. */
export type Row = readonly Value[];

export interface CopyProgress {
  /** Every key below `key` (and `key` itself when inclusive) is in DuckDB; absent: none yet. */
  readonly key?: KeyValues;
  readonly inclusive: boolean;
  readonly done: boolean;
  readonly chunks: number;
  readonly rows: number;
}

export const NOT_STARTED: CopyProgress = { inclusive: false, done: false, chunks: 0, rows: 0 };

/** What the sink writes at a high watermark, with `progress`, in one DuckDB transaction. */
export interface ChunkWrite {
  readonly rows: Row[];
  readonly progress: CopyProgress;
  /** The first chunk: empty the DuckDB table before writing (stale rows of a re-copied table). */
  readonly emptyFirst: boolean;
}

export class CopyMergeError extends WalduckError {
  override readonly name = 'CopyMergeError';
  readonly code = 'WALDUCK_COPY_PARTIAL_ROW';
  readonly phase = 'apply';
}

const UNKNOWN = Symbol('unknown');
type Cell = Value | typeof UNKNOWN;

/** What a key holds after the window's changes so far. */
type Entry =
  | { readonly deleted: true }
  | {
      readonly deleted: false;
      readonly cells: readonly Cell[];
      /** Unknown cells may be taken from the chunk row of the same key (the key never changed). */
      readonly fromChunk: boolean;
    };

type RowChange = Insert | Update | Delete;

export class WatermarkMerge {
  private committedProgress: CopyProgress;
  private expected: string | undefined;
  private windowOpen = false;
  private chunk: { readonly id: string; readonly rows: readonly Row[]; readonly full: boolean } | undefined;
  private readonly touched = new Map<string, { readonly key: KeyValues; entry: Entry }>();
  private truncated = false;
  private waiter: { readonly id: string; readonly resolve: (written: boolean) => void } | undefined;
  private readonly position: ReadonlyMap<string, number>;
  private readonly settlers: (() => void)[] = [];

  constructor(
    /** Every column name, in the table's column order (the order of a chunk row). */
    readonly columns: readonly string[],
    /** Positions in `columns` of the key. */
    private readonly key: readonly number[],
    private readonly compare: KeyCompare,
    public progress: CopyProgress = NOT_STARTED,
  ) {
    this.committedProgress = progress;
    this.position = new Map(columns.map((c, i) => [c, i]));
  }

  /** No chunk written and none being read: every change of the table is dropped for now. */
  get fresh(): boolean {
    return this.progress.chunks === 0 && !this.windowOpen;
  }

  /** The key W: at or below it DuckDB equals the source. */
  atOrBelow(k: KeyValues): boolean {
    const p = this.progress;
    if (p.done) return true;
    if (!p.key) return false;
    const c = this.compare(k, p.key);
    return c < 0 || (c === 0 && p.inclusive);
  }

  /** The copier is about to emit the low watermark `id`: only that one (and its high) counts. */
  expect(id: string): Promise<boolean> {
    this.closeWindow(false);
    this.expected = id;
    return new Promise((resolve) => {
      this.waiter = { id, resolve };
    });
  }

  /** A low watermark from the stream. */
  low(id: string): void {
    if (id !== this.expected) return;
    this.touched.clear();
    this.truncated = false;
    this.windowOpen = true;
  }

  /** The chunk SELECT's rows (key order), handed over before the high watermark is emitted. */
  rows(id: string, rows: readonly Row[], full: boolean): void {
    if (id === this.expected) this.chunk = { id, rows, full };
  }

  /** A change of the table being copied: what to apply to DuckDB (possibly nothing). */
  route(change: RowChange): RowChange[] {
    if (this.progress.done) return [change];
    if (change.kind === 'insert') {
      const k = this.keyOf(change.new);
      if (this.atOrBelow(k)) return [change];
      this.touch(k, { deleted: false, cells: this.cells(change.new, undefined), fromChunk: false });
      return [];
    }
    if (change.kind === 'delete') {
      const k = this.keyOf(change.old);
      if (this.atOrBelow(k)) return [change];
      this.touch(k, { deleted: true });
      return [];
    }
    const a = this.keyOf(change.old ?? change.new);
    // A key column the new row leaves out is an unchanged TOASTed value: the old key holds it.
    const b = this.keyOf(change.new, change.old);
    const same = this.compare(a, b) === 0;
    const aIn = this.atOrBelow(a);
    const bIn = this.atOrBelow(b);
    if (aIn && bIn) return [change];
    if (aIn) {
      // Moves above W: gone from DuckDB; its new row (unknown cells cannot come from the chunk: it was
      // at another key) waits for the window's end or a later chunk.
      this.touch(b, { deleted: false, cells: this.cells(change.new, undefined), fromChunk: false });
      return [
        {
          kind: 'delete',
          lsn: change.lsn,
          schema: change.schema,
          table: change.table,
          old: this.keyImage(change.old ?? change.new),
        },
      ];
    }
    const prior = this.windowOpen ? this.touched.get(keyText(a))?.entry : undefined;
    const base = prior && !prior.deleted ? prior : undefined;
    if (!same) this.touch(a, { deleted: true });
    if (bIn) {
      // Moves below W from above: DuckDB must get the whole row now.
      if (change.new.names.length === this.columns.length) {
        return [
          { kind: 'insert', lsn: change.lsn, schema: change.schema, table: change.table, new: change.new },
        ];
      }
      throw new CopyMergeError(
        `online copy of ${shownName(change)}: an UPDATE moved key (${a.join(', ')}) to (${b.join(', ')}), below the copied part, leaving an unchanged TOASTed column out of its row, so walduck cannot write the whole row; run the copy again (walduck resync --table ${shownName(change)})`,
      );
    }
    const cells = this.cells(change.new, base?.cells);
    this.touch(b, { deleted: false, cells, fromChunk: same ? (base?.fromChunk ?? true) : false });
    return [];
  }

  /** A TRUNCATE of the table (the sink empties DuckDB's copy: it holds only keys at or below W). */
  truncate(): void {
    if (!this.windowOpen) return;
    this.touched.clear();
    this.truncated = true;
  }

  /** A high watermark from the stream: the chunk to write with its progress, or undefined (stale). */
  high(id: string): ChunkWrite | undefined {
    if (id !== this.expected || !this.windowOpen || this.chunk?.id !== id) return undefined;
    const chunk = this.chunk;
    const last = chunk.rows[chunk.rows.length - 1];
    const bound = chunk.full && last ? this.keyOfRow(last) : undefined;
    const inRange = (k: KeyValues) =>
      !this.atOrBelow(k) && (bound === undefined || this.compare(k, bound) <= 0);
    const out: { key: KeyValues; row: Row }[] = [];
    const byKey = new Map<string, Row>();
    for (const row of chunk.rows) {
      const k = this.keyOfRow(row);
      byKey.set(keyText(k), row);
      if (!this.truncated && !this.touched.has(keyText(k))) out.push({ key: k, row });
    }
    let unresolved: KeyValues | undefined;
    for (const [text, { key, entry }] of this.touched) {
      if (entry.deleted || !inRange(key)) continue;
      const from = entry.fromChunk && !this.truncated ? byKey.get(text) : undefined;
      const row = resolve(entry.cells, from);
      if (row) out.push({ key, row });
      else if (unresolved === undefined || this.compare(key, unresolved) < 0) unresolved = key;
    }
    const before = this.progress;
    let rows = out;
    let progress: CopyProgress;
    if (unresolved !== undefined) {
      const u = unresolved;
      rows = out.filter((r) => this.compare(r.key, u) < 0);
      progress = { ...before, key: u, inclusive: false };
    } else if (bound === undefined) progress = { ...before, done: true };
    else progress = { ...before, key: bound, inclusive: true };
    this.progress = { ...progress, chunks: before.chunks + 1, rows: before.rows + rows.length };
    this.closeWindow(true);
    return { rows: rows.map((r) => r.row), progress: this.progress, emptyFirst: before.chunks === 0 };
  }

  /** The sink committed: the progress is durable. */
  commit(): void {
    this.committedProgress = this.progress;
    this.settle();
  }

  /** The sink rolled back: back to the durable progress; a chunk in flight is lost (re-read). */
  rollback(): void {
    this.progress = this.committedProgress;
    this.closeWindow(false);
    this.settle();
  }

  /**
   * The copy starts over from the first key (rows came or went without WAL during it): a chunk in
   * flight is dropped and the next first chunk empties the table again. A rollback goes back to the
   * committed progress.
   */
  restart(): void {
    this.closeWindow(false);
    this.progress = NOT_STARTED;
    this.settle();
  }

  /**
   * Replaced by a new copy of the table (it was dropped and created again in another shape): its
   * copier stops, whatever its chunk in flight did (it read, or failed to read, the dropped columns).
   */
  retired = false;
  retire(): void {
    this.retired = true;
    this.closeWindow(false);
    this.settle();
  }

  /**
   * Something the window cannot follow row by row (a TRUNCATE of one partition of the table): the
   * chunk in flight is dropped unwritten and the copier reads it again.
   */
  discard(): void {
    if (this.windowOpen) this.closeWindow(false);
  }

  /** Resolves at the next commit or rollback (the copier waits so for its last chunk to be durable). */
  settled(): Promise<void> {
    return new Promise((resolve) => this.settlers.push(resolve));
  }

  private settle(): void {
    for (const s of this.settlers.splice(0)) s();
  }

  get committed(): CopyProgress {
    return this.committedProgress;
  }

  private closeWindow(written: boolean): void {
    this.windowOpen = false;
    this.touched.clear();
    this.truncated = false;
    this.chunk = undefined;
    this.expected = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve(written);
  }

  private touch(k: KeyValues, entry: Entry): void {
    if (this.windowOpen) this.touched.set(keyText(k), { key: k, entry });
  }

  private cells(image: RowImage, base: readonly Cell[] | undefined): Cell[] {
    const out: Cell[] = base ? [...base] : this.columns.map(() => UNKNOWN);
    for (let i = 0; i < image.names.length; i++) {
      const p = this.position.get(image.names[i] ?? '');
      if (p !== undefined) out[p] = image.values[i] ?? null;
    }
    return out;
  }

  private keyOf(image: RowImage, old?: RowImage): KeyValues {
    return this.key.map((p) => {
      const name = this.columns[p] ?? '';
      const i = image.names.indexOf(name);
      if (i < 0 && old) return old.values[old.names.indexOf(name)] ?? '';
      return image.values[i] ?? '';
    });
  }

  private keyOfRow(row: Row): KeyValues {
    return this.key.map((p) => row[p] ?? '');
  }

  /** The key columns of an image, as a delete's old row. */
  private keyImage(image: RowImage): RowImage {
    const idx = this.key.map((p) => image.names.indexOf(this.columns[p] ?? ''));
    return {
      names: idx.map((i) => image.names[i] ?? ''),
      types: idx.map((i) => image.types[i] ?? ''),
      values: idx.map((i) => image.values[i] ?? null),
    };
  }
}

function keyText(k: KeyValues): string {
  return k.join('\u0000');
}

function resolve(cells: readonly Cell[], from: Row | undefined): Row | undefined {
  const out: Value[] = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (c !== UNKNOWN && c !== undefined) out.push(c);
    else if (from) out.push(from[i] ?? null);
    else return undefined;
  }
  return out;
}
