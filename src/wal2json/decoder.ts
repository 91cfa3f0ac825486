// createDecoder: XLogData payloads in, change events out, for either wal2json format.
//
// Lifetime rule: decode() returns a lazy generator that reads the payload in place; the payload must
// stay unchanged until the generator is finished, and it must be run to its end before the next
// decode() call. Strings handed out are copies, so events stay valid after that. A generator left
// unfinished, or one that threw, leaves a v1 document half-read: the decoder then refuses further
// input (WALDUCK_WAL2JSON_MISUSE) rather than guess, and the caller restarts from the slot's confirmed LSN.

import type { Lsn } from '../protocol/lsn.js';
import type { Change } from './change.js';
import { Wal2JsonError, type Wal2JsonPhase } from './errors.js';
import { JsonReader } from './json-reader.js';
import { ImageBuilder, TableCache } from './row-image.js';
import { V1Stream } from './v1-stream.js';
import { type SkipTable, V2Decoder } from './v2.js';

export type { SkipTable } from './v2.js';

export interface Wal2JsonDecoder {
  /**
   * Decode one XLogData payload delivered at `lsn` (its dataStart). Lazy: yields each change as soon as
   * it is complete, so a 500 MB v1 document never becomes an array of changes. The payload stays valid
   * while the generator is consumed.
   *
   * `more`: the payload is a piece of one XLogData that goes on in the next call (a long message the
   * stream hands out as it arrives, never assembled; every piece carries the message's `lsn`). v1
   * reads pieces as it reads write-in-chunks messages, so a whole-transaction document streams
   * through; v2 (one change per message) gathers the pieces of its line and decodes it at the last.
   */
  decode(payload: Uint8Array, lsn: Lsn, more?: boolean): Generator<Change, void, undefined>;
  /** true while a v1 document is open across messages (write-in-chunks) */
  readonly inTransaction: boolean;
  /** Row changes dropped unread so far, because `skip` declined their table (yielded as nothing). */
  readonly skipped: number;
}

export interface DecoderOptions {
  readonly formatVersion: 1 | 2;
  /** Deepest JSON nesting accepted (wal2json's own output is at most 4 deep). Default 32. */
  readonly maxDepth?: number;
  /** Longest JSON string accepted, in encoded bytes. Default 256 MiB (a JS string cannot hold PostgreSQL's 1 GB anyway). */
  readonly maxStringBytes?: number;
  /** Largest single v1 change reassembled across messages, in bytes. Default 1 GiB. */
  readonly maxChangeBytes?: number;
  readonly log?: (msg: string) => void;
  /**
   * Asked once per row change (insert, update, delete), as soon as its schema and table are read and
   * before its row is: true drops the change unread, without making a string of any value, and it is
   * yielded as nothing (only `skipped` counts it). For a table whose changes the caller would drop
   * anyway; the answer may change from one call to the next (the generator is lazy, so it is asked
   * when the change is reached, after everything yielded before it was handled). A v1 change that
   * would yield its transaction's begin with it is never skipped: the begin is handled first.
   */
  readonly skip?: SkipTable;
}

export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_STRING_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_CHANGE_BYTES = 1024 * 1024 * 1024;

export function createDecoder(o: DecoderOptions): Wal2JsonDecoder {
  const limits = {
    maxDepth: positive(o.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth'),
    maxStringBytes: positive(o.maxStringBytes, DEFAULT_MAX_STRING_BYTES, 'maxStringBytes'),
    maxChangeBytes: positive(o.maxChangeBytes, DEFAULT_MAX_CHANGE_BYTES, 'maxChangeBytes'),
  };
  if (o.formatVersion === 2) return new V2Wal2JsonDecoder(limits, o.skip);
  if (o.formatVersion === 1) return new V1Wal2JsonDecoder(limits, o.log, o.skip);
  throw new RangeError(`formatVersion must be 1 or 2, got ${String(o.formatVersion)}`);
}

function* nothing(): Generator<Change, void, undefined> {}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

abstract class Guarded {
  private busy = false;
  private failed: unknown;
  /** dataStart of the payload being decoded (for the error if its generator is abandoned). */
  private lsn: Lsn = 0n;

  protected abstract readonly phase: Wal2JsonPhase;

  /** Refuses input while a previous generator is unfinished or after a failure. */
  protected enter(lsn: Lsn): void {
    if (this.failed !== undefined || this.busy) {
      const why =
        this.failed !== undefined
          ? 'the decoder failed earlier; restart from the confirmed LSN'
          : 'the previous decode() generator was not run to its end';
      throw new Wal2JsonError(
        'WALDUCK_WAL2JSON_MISUSE',
        why,
        { phase: this.phase, lsn, offset: 0, snippet: '' },
        { cause: this.failed },
      );
    }
    this.busy = true;
    this.lsn = lsn;
  }

  protected leave(ok: boolean, err?: unknown): void {
    if (ok) this.busy = false;
    else
      this.failed =
        err ??
        new Wal2JsonError(
          'WALDUCK_WAL2JSON_MISUSE',
          'decode() generator closed before the payload was read',
          {
            phase: this.phase,
            lsn: this.lsn,
            offset: 0,
            snippet: '',
          },
        );
  }
}

class V2Wal2JsonDecoder extends Guarded implements Wal2JsonDecoder {
  protected readonly phase = 'decode-v2';
  private readonly r: JsonReader;
  private readonly v2: V2Decoder;

  /** Pieces of one long v2 line gathered so far (see decode's `more`), bounded by maxChangeBytes. */
  private pieces: Uint8Array[] = [];
  private piecesLength = 0;
  skipped = 0;

  constructor(
    private readonly limits: { maxDepth: number; maxStringBytes: number; maxChangeBytes: number },
    skip: SkipTable | undefined,
  ) {
    super();
    this.r = new JsonReader('decode-v2', limits);
    this.v2 = new V2Decoder(this.r, new TableCache(), new ImageBuilder(), skip);
  }

  get inTransaction(): boolean {
    return false;
  }

  decode(payload: Uint8Array, lsn: Lsn, more = false): Generator<Change, void, undefined> {
    this.enter(lsn);
    if (more || this.pieces.length > 0) {
      const whole = this.gather(payload, lsn, more);
      if (whole === undefined) {
        this.leave(true);
        return nothing();
      }
      payload = whole;
    }
    return this.run(payload, lsn);
  }

  /** Keeps a piece (a copy: the stream's views are only lent); the whole line once the last arrives. */
  private gather(piece: Uint8Array, lsn: Lsn, more: boolean): Uint8Array | undefined {
    this.piecesLength += piece.length;
    if (this.piecesLength > this.limits.maxChangeBytes) {
      this.pieces = [];
      this.piecesLength = 0;
      const err = new Wal2JsonError(
        'WALDUCK_WAL2JSON_TOO_LONG',
        `one change larger than ${this.limits.maxChangeBytes} bytes`,
        {
          phase: this.phase,
          lsn,
          offset: 0,
          snippet: '',
        },
      );
      this.leave(false, err);
      throw err;
    }
    this.pieces.push(more ? piece.slice() : piece);
    if (more) return undefined;
    const whole = new Uint8Array(this.piecesLength);
    let at = 0;
    for (const p of this.pieces) {
      whole.set(p, at);
      at += p.length;
    }
    this.pieces = [];
    this.piecesLength = 0;
    return whole;
  }

  private *run(payload: Uint8Array, lsn: Lsn): Generator<Change, void, undefined> {
    let change: Change | undefined;
    try {
      this.r.reset(payload, true, lsn);
      change = this.v2.decode(lsn);
    } catch (err) {
      // A bad v2 line leaves no state behind: the next line can be decoded.
      this.r.release();
      this.leave(true);
      throw err;
    }
    this.r.release();
    if (change === undefined) {
      this.skipped++;
      this.leave(true);
      return;
    }
    let done = false;
    try {
      yield change;
      done = true;
    } finally {
      this.leave(done);
    }
  }
}

class V1Wal2JsonDecoder extends Guarded implements Wal2JsonDecoder {
  protected readonly phase = 'decode-v1';
  private readonly r: JsonReader;
  private readonly stream: V1Stream;

  constructor(
    limits: { maxDepth: number; maxStringBytes: number; maxChangeBytes: number },
    log: ((msg: string) => void) | undefined,
    skip: SkipTable | undefined,
  ) {
    super();
    this.r = new JsonReader('decode-v1', limits);
    const assembled = new JsonReader('decode-v1', limits);
    this.stream = new V1Stream(this.r, assembled, new TableCache(), new ImageBuilder(), limits, log, skip);
  }

  get inTransaction(): boolean {
    return this.stream.open;
  }

  get skipped(): number {
    return this.stream.skipped;
  }

  /** Pieces need nothing special: the document state machine resumes at any byte (v1-stream.ts). */
  decode(payload: Uint8Array, lsn: Lsn, _more?: boolean): Generator<Change, void, undefined> {
    this.enter(lsn);
    return this.run(payload, lsn);
  }

  private *run(payload: Uint8Array, lsn: Lsn): Generator<Change, void, undefined> {
    const s = this.stream;
    const out = s.out;
    let done = false;
    let error: unknown;
    try {
      s.start(payload, lsn);
      for (;;) {
        // Drain before stepping: the events of one step are yielded before the next byte is read.
        for (let i = 0; i < out.length; i++) yield out[i]!;
        out.length = 0;
        if (!s.step() && out.length === 0) break;
      }
      done = true;
    } catch (err) {
      error = err;
      throw err;
    } finally {
      out.length = 0;
      this.r.release();
      this.leave(done, error);
    }
  }
}
