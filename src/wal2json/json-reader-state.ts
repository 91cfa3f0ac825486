// The state of a JsonReader (json-reader.ts): the byte view it walks, its position, nesting depth and
// mode, how it reports an error or the end of the view, and whitespace. The first class of the
// reader's chain: the scanners (json-string.ts, json-number.ts) and the structure (json-reader.ts)
// extend it.
//
// The reader works in two modes. `final`: the end of the view is the end of the input, and running
// into it is a WALDUCK_WAL2JSON_TRUNCATED error (a v2 line; a v1 change reassembled from several messages).
// Not final: running into the end throws NEED_MORE, and the v1 stream decoder captures the value across
// the next messages instead (see v1-stream.ts). A value that ends exactly at the end of a non-final
// view is only complete if nothing could extend it: a number there throws NEED_MORE too.

import { Buffer } from 'node:buffer';
import type { Lsn } from '../protocol/lsn.js';
import { snippetAt, Wal2JsonError, type Wal2JsonErrorCode, type Wal2JsonPhase } from './errors.js';

export const QUOTE = 0x22; // '"'
export const BACKSLASH = 0x5c; // '\'
export const LBRACE = 0x7b; // '{'
export const RBRACE = 0x7d; // '}'
export const LBRACKET = 0x5b; // '['
export const RBRACKET = 0x5d; // ']'
export const COMMA = 0x2c; // ','
export const COLON = 0x3a; // ':'
export const MINUS = 0x2d; // '-'
export const PLUS = 0x2b; // '+'
export const DOT = 0x2e; // '.'
export const ZERO = 0x30; // '0'
export const NINE = 0x39; // '9'
export const LOWER_E = 0x65; // 'e'
export const UPPER_E = 0x45; // 'E'
export const LOWER_N = 0x6e; // 'n'
export const LOWER_T = 0x74; // 't'
export const LOWER_F = 0x66; // 'f'
export const LOWER_U = 0x75; // 'u'

/** A DataView's buffer larger than this is let go after each payload (see ReaderState.release). */
const KEEP_VIEW_BYTES = 1024 * 1024;

/** Thrown (not an Error: it is control flow) when a non-final view ends inside a value. */
export const NEED_MORE: { readonly needMore: true } = Object.freeze({ needMore: true });

/** Bytes recorded from an earlier payload, with a DataView of them (see skipIfNext). */
export interface RecordedBytes {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

export interface ReaderLimits {
  readonly maxDepth: number;
  readonly maxStringBytes: number;
}

// Node's Buffer has undocumented but long-stable latin1Slice/utf8Slice: toString(enc, s, e) without the
// encoding lookup, which matters at one call per value.
export interface SliceBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
const hasSlices =
  typeof (Buffer.prototype as Partial<SliceBuffer>).latin1Slice === 'function' &&
  typeof (Buffer.prototype as Partial<SliceBuffer>).utf8Slice === 'function';

function asSliceBuffer(bytes: Uint8Array): SliceBuffer {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (hasSlices) return buf as SliceBuffer;
  const b = buf as SliceBuffer;
  b.latin1Slice = (s, e) => buf.toString('latin1', s, e);
  b.utf8Slice = (s, e) => buf.toString('utf8', s, e);
  return b;
}

const EMPTY = new Uint8Array(0);
const EMPTY_BUF = asSliceBuffer(EMPTY);

export class ReaderState {
  bytes: Uint8Array = EMPTY;
  /** `bytes` as a Buffer, for slicing strings out of it. */
  protected buf: SliceBuffer = EMPTY_BUF;
  pos = 0;
  end = 0;
  final = true;
  depth = 0;
  lsn: Lsn = 0n;
  /** Added to a position to report it as an offset in the current payload (see Wal2JsonError.offset). */
  offsetBias = 0;
  /**
   * A DataView of the whole ArrayBuffer under `bytes`, kept while payloads come from the same one (a
   * socket chunk holds hundreds of v2 lines): making one per line cost more than it saved.
   */
  private dataView: DataView | undefined;
  private dataViewBuffer: ArrayBufferLike | undefined;
  /**
   * The `bytes` whose buffer dataView was last checked against: `b.buffer` is a runtime call, and
   * skipIfNext asks for the view once per column (a tenth of the decoder's CPU on 50-column rows).
   */
  private viewOf: Uint8Array | undefined;

  constructor(
    readonly phase: Wal2JsonPhase,
    readonly limits: ReaderLimits,
  ) {}

  reset(bytes: Uint8Array, final: boolean, lsn: Lsn, offsetBias = 0): void {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.buf = asSliceBuffer(bytes);
    }
    this.pos = 0;
    this.end = bytes.length;
    this.final = final;
    this.depth = 0;
    this.lsn = lsn;
    this.offsetBias = offsetBias;
  }

  /** Drops the reference to the last payload (it may be reused by the caller). */
  release(): void {
    this.bytes = EMPTY;
    this.buf = EMPTY_BUF;
    // A large buffer (an assembled line) is not kept alive for the view's sake; a chunk may be.
    if (this.dataViewBuffer !== undefined && this.dataViewBuffer.byteLength > KEEP_VIEW_BYTES) {
      this.dataView = undefined;
      this.dataViewBuffer = undefined;
    }
    this.viewOf = undefined;
    this.pos = 0;
    this.end = 0;
  }

  fail(code: Wal2JsonErrorCode, detail: string, at = this.pos): Wal2JsonError {
    return new Wal2JsonError(code, detail, {
      phase: this.phase,
      lsn: this.lsn,
      offset: at + this.offsetBias,
      snippet: snippetAt(this.bytes, at),
    });
  }

  /** The view ended inside a value: an error if it is the whole input, else "wait for more". */
  more(): never {
    if (this.final) throw this.fail('WALDUCK_WAL2JSON_TRUNCATED', 'input ends inside a JSON value');
    throw NEED_MORE;
  }

  /** The view ended at `p` inside a value: see more(). */
  moreAt(p: number): never {
    this.pos = p;
    return this.more();
  }

  /** A value of another JSON type than expected is a shape error; a byte no value starts with is syntax. */
  wrongType(expected: string): Wal2JsonError {
    const c = this.bytes[this.pos];
    const startsValue =
      c === QUOTE ||
      c === LBRACE ||
      c === LBRACKET ||
      c === MINUS ||
      c === LOWER_T ||
      c === LOWER_F ||
      c === LOWER_N ||
      (c !== undefined && c >= ZERO && c <= NINE);
    return startsValue
      ? this.fail('WALDUCK_WAL2JSON_SHAPE', `expected ${expected}`)
      : this.fail('WALDUCK_WAL2JSON_SYNTAX', `expected ${expected}`);
  }

  /** A string body from `start` to `end` (exclusive) must fit the limit. */
  protected checkLength(start: number, end: number): void {
    if (end - start > this.limits.maxStringBytes) {
      throw this.fail(
        'WALDUCK_WAL2JSON_TOO_LONG',
        `string longer than ${this.limits.maxStringBytes} bytes`,
        start,
      );
    }
  }

  /** JSON strings may not hold a raw control character (U+0000 to U+001F). */
  protected controlCharacter(p: number): Wal2JsonError {
    this.pos = p;
    return this.fail('WALDUCK_WAL2JSON_SYNTAX', 'control character inside a string');
  }

  /** Skips whitespace; returns the next byte without consuming it. */
  ws(): number {
    return this.atEnd() ? this.more() : this.bytes[this.pos]!;
  }

  /** Skips whitespace; true when the view ends here (never throws). */
  atEnd(): boolean {
    const b = this.bytes;
    const e = this.end;
    let p = this.pos;
    while (p < e) {
      const c = b[p]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
    return p >= e;
  }

  /** One level deeper, within the depth limit. */
  protected enter(): void {
    if (++this.depth > this.limits.maxDepth) {
      throw this.fail('WALDUCK_WAL2JSON_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`);
    }
  }

  /** The first `byte` at or after `from` in the view's buffer (native search), or -1. */
  indexOf(byte: number, from: number): number {
    return this.buf.indexOf(byte, from);
  }

  /** A DataView of the whole ArrayBuffer under `b` (offsets in it are b.byteOffset + offsets in b). */
  protected view(b: Uint8Array): DataView {
    let v = this.dataView;
    if (v !== undefined && b === this.viewOf) return v;
    if (v === undefined || this.dataViewBuffer !== b.buffer) {
      v = new DataView(b.buffer);
      this.dataView = v;
      this.dataViewBuffer = b.buffer;
    }
    this.viewOf = b;
    return v;
  }
}
