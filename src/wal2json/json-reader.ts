// A pull reader for JSON over a byte view: the caller asks for what it expects next (an object, a key,
// a string, a value's text) and the reader walks the bytes once, with no tokens and no per-byte
// allocation. Numbers are never converted: their source text is handed out as is, so int8 and numeric
// stay exact. Strings take a fast path (one slice of the view) when they hold no escape.
//
// The reader works in two modes. `final`: the end of the view is the end of the input, and running
// into it is a WALDUCK_WAL2JSON_TRUNCATED error (a v2 line; a v1 change reassembled from several messages).
// Not final: running into the end throws NEED_MORE, and the v1 stream decoder captures the value across
// the next messages instead (see v1-stream.ts). A value that ends exactly at the end of a non-final
// view is only complete if nothing could extend it: a number there throws NEED_MORE too.

import { Buffer } from 'node:buffer';
import type { Lsn } from '../protocol/lsn.js';
import type { Value } from './change.js';
import { snippetAt, Wal2JsonError, type Wal2JsonErrorCode, type Wal2JsonPhase } from './errors.js';

export const QUOTE = 0x22; // '"'
export const BACKSLASH = 0x5c; // '\'
export const LBRACE = 0x7b; // '{'
export const RBRACE = 0x7d; // '}'
export const LBRACKET = 0x5b; // '['
export const RBRACKET = 0x5d; // ']'
export const COMMA = 0x2c; // ','
export const COLON = 0x3a; // ':'
const MINUS = 0x2d; // '-'
const PLUS = 0x2b; // '+'
const DOT = 0x2e; // '.'
const ZERO = 0x30; // '0'
const NINE = 0x39; // '9'
const LOWER_E = 0x65; // 'e'
const UPPER_E = 0x45; // 'E'
const LOWER_N = 0x6e; // 'n'
const LOWER_T = 0x74; // 't'
const LOWER_F = 0x66; // 'f'
const LOWER_U = 0x75; // 'u'

/** A DataView's buffer larger than this is let go after each payload (see JsonReader.release). */
const KEEP_VIEW_BYTES = 1024 * 1024;

/** From this length on a string's end is searched natively (see stringBody, skip-unread.ts). */
export const LONG_STRING = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids these raw in a string.
const CONTROL = /[\u0000-\u001f]/;

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
interface SliceBuffer extends Buffer {
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

export class JsonReader {
  bytes: Uint8Array = EMPTY;
  private buf: SliceBuffer = EMPTY_BUF;
  pos = 0;
  end = 0;
  final = true;
  depth = 0;
  lsn: Lsn = 0n;
  /** Added to a position to report it as an offset in the current payload (see Wal2JsonError.offset). */
  offsetBias = 0;
  private keyStart = 0;
  private keyEnd = 0;
  /** The decoded key when it held an escape (then keyStart/keyEnd are unused). */
  private keyText: string | undefined;
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

  private enter(): void {
    if (++this.depth > this.limits.maxDepth) {
      throw this.fail('WALDUCK_WAL2JSON_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`);
    }
  }

  openObject(): void {
    if (this.ws() !== LBRACE) throw this.wrongType('an object');
    this.pos++;
    this.enter();
  }

  /**
   * If the next value starts with exactly the bytes `p[from..to)`, which open an object (a recorded
   * column prefix, see v2-prefix.ts), moves past them into that object and returns true. Otherwise
   * consumes nothing but whitespace and returns false.
   */
  openObjectIfPrefix(p: RecordedBytes, from: number, to: number): boolean {
    if (p.bytes[from] !== LBRACE || !this.skipIfNext(p, from, to)) return false;
    this.enter();
    return true;
  }

  openArray(): void {
    if (this.ws() !== LBRACKET) throw this.wrongType('an array');
    this.pos++;
    this.enter();
  }

  /**
   * At the next member of the open object or array: false (and the container closed) at `close`;
   * otherwise past the ',' that must come before every member but the first.
   */
  private nextMember(first: boolean, close: number, expected: string): boolean {
    const c = this.ws();
    if (c === close) {
      this.pos++;
      this.depth--;
      return false;
    }
    if (!first) {
      if (c !== COMMA) throw this.fail('WALDUCK_WAL2JSON_SYNTAX', expected);
      this.pos++;
    }
    return true;
  }

  /** Moves to the next key of the open object and past its ':'; false (and the object closed) at '}'. */
  nextKey(first: boolean): boolean {
    if (!this.nextMember(first, RBRACE, "expected ',' or '}'")) return false;
    if (this.ws() !== QUOTE) throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a key');
    const b = this.bytes;
    const e = this.end;
    const start = this.pos + 1;
    let p = start;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x === BACKSLASH || x < 0x20 || x >= 0x80) {
        this.pos = start;
        this.keyText = this.stringBody();
        p = -1;
        break;
      }
      p++;
    }
    if (p >= 0) {
      this.keyText = undefined;
      this.keyStart = start;
      this.keyEnd = p;
      this.pos = p + 1;
    }
    if (this.ws() !== COLON) throw this.fail('WALDUCK_WAL2JSON_SYNTAX', "expected ':'");
    this.pos++;
    return true;
  }

  /**
   * A cheap tag of the key just read (its length, first and last byte; see keyTagOf), to pick the
   * one candidate among many before keyIs confirms it: equal keys have equal tags, not conversely.
   */
  keyTag(): number {
    const t = this.keyText;
    if (t !== undefined) return keyTagOf(t);
    const n = this.keyEnd - this.keyStart;
    if (n === 0) return 0;
    const b = this.bytes;
    return (n << 16) | (b[this.keyStart]! << 8) | b[this.keyEnd - 1]!;
  }

  /** Whether the key just read is `k` (an ASCII constant). */
  keyIs(k: string): boolean {
    if (this.keyText !== undefined) return this.keyText === k;
    const n = this.keyEnd - this.keyStart;
    if (n !== k.length) return false;
    const b = this.bytes;
    const s = this.keyStart;
    for (let i = 0; i < n; i++) if (b[s + i] !== k.charCodeAt(i)) return false;
    return true;
  }

  /** The key just read, as a string (for messages). */
  key(): string {
    return this.keyText ?? this.buf.latin1Slice(this.keyStart, this.keyEnd);
  }

  /** Moves to the next element of the open array, past its ','; false (and the array closed) at ']'. */
  nextElem(first: boolean): boolean {
    return this.nextMember(first, RBRACKET, "expected ',' or ']'");
  }

  /** True (and consumed) if the next value is `null`. */
  isNull(): boolean {
    if (this.ws() !== LOWER_N) return false;
    this.literal('null');
    return true;
  }

  string(): string {
    if (this.ws() !== QUOTE) throw this.wrongType('a string');
    this.pos++;
    return this.stringBody();
  }

  boolean(): boolean {
    const c = this.ws();
    if (c === LOWER_T) {
      this.literal('true');
      return true;
    }
    if (c === LOWER_F) {
      this.literal('false');
      return false;
    }
    throw this.wrongType('true or false');
  }

  /**
   * If the next value is the string `s` (ASCII, compared byte by byte), consumes it and returns true;
   * otherwise consumes nothing. Lets callers reuse a string they already hold instead of decoding.
   */
  strEquals(s: string): boolean {
    if (this.ws() !== QUOTE) return false;
    const b = this.bytes;
    const start = this.pos + 1;
    const n = s.length;
    if (start + n >= this.end) return false;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Only characters JSON prints as themselves compare byte for byte; the rest take the slow path.
      if (c >= 0x80 || c < 0x20 || c === QUOTE || c === BACKSLASH || b[start + i] !== c) return false;
    }
    if (b[start + n] !== QUOTE) return false;
    this.pos = start + n + 1;
    return true;
  }

  /** The rest of a string after its opening quote; leaves pos after the closing quote. */
  stringBody(): string {
    const b = this.bytes;
    const e = this.end;
    const start = this.pos;
    let p = start;
    let ascii = true;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x === BACKSLASH) return this.stringEscaped(start, p);
      if (x < 0x20) throw this.controlCharacter(p);
      if (x >= 0x80) ascii = false;
      p++;
      // A long value (a TOASTed text): the rest is searched natively (memchr), not byte by byte.
      if (p - start === LONG_STRING) {
        const s = this.longString(start, e);
        if (s !== undefined) return s;
      }
    }
    this.checkLength(start, p);
    this.pos = p + 1;
    return ascii ? this.buf.latin1Slice(start, p) : this.buf.utf8Slice(start, p);
  }

  /**
   * The string from `start` (its first LONG_STRING bytes already seen plain) if its closing quote lies
   * in the view with no backslash before it and no control character in it; else undefined (the byte
   * loop goes on, escapes, errors and a view ending early included).
   */
  private longString(start: number, e: number): string | undefined {
    const q = this.buf.indexOf(QUOTE, start + LONG_STRING);
    if (q < 0 || q >= e) return undefined;
    if (this.buf.subarray(start, q).indexOf(BACKSLASH) >= 0) return undefined;
    const s = this.buf.utf8Slice(start, q);
    if (CONTROL.test(s)) return undefined;
    this.checkLength(start, q);
    this.pos = q + 1;
    return s;
  }

  /** The slow path: a string with escapes, decoded piece by piece from `p` (at a backslash). */
  private stringEscaped(start: number, p: number): string {
    const b = this.bytes;
    const e = this.end;
    let out = '';
    let seg = start;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x < 0x20) throw this.controlCharacter(p);
      if (x !== BACKSLASH) {
        p++;
        continue;
      }
      if (p > seg) out += this.buf.utf8Slice(seg, p);
      if (p + 1 >= e) this.moreAt(p + 1);
      const esc = b[p + 1]!;
      switch (esc) {
        case 0x22: // '"'
        case 0x5c: // '\'
        case 0x2f: // '/'
          out += String.fromCharCode(esc);
          break;
        case 0x62: // 'b'
          out += '\b';
          break;
        case 0x66: // 'f'
          out += '\f';
          break;
        case 0x6e: // 'n'
          out += '\n';
          break;
        case 0x72: // 'r'
          out += '\r';
          break;
        case 0x74: // 't'
          out += '\t';
          break;
        case LOWER_U: {
          if (p + 6 > e) this.moreAt(e);
          let code = 0;
          for (let i = p + 2; i < p + 6; i++) {
            const h = hexValue(b[i]!);
            if (h < 0) {
              this.pos = i;
              throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'bad \\u escape');
            }
            code = code * 16 + h;
          }
          // Surrogate halves are appended one by one: a JS string is UTF-16, so a pair joins itself.
          out += String.fromCharCode(code);
          p += 4;
          break;
        }
        default:
          this.pos = p;
          throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'bad escape in a string');
      }
      p += 2;
      seg = p;
    }
    this.checkLength(start, p);
    if (p > seg) out += this.buf.utf8Slice(seg, p);
    this.pos = p + 1;
    return out;
  }

  /** A JSON number's source text, validated against the JSON grammar. */
  numberText(): string {
    const b = this.bytes;
    const e = this.end;
    const start = this.pos;
    let p = start;
    if (b[p] === MINUS) p++;
    if (p >= e) this.moreAt(p);
    const first = b[p]!;
    if (first === ZERO) p++;
    else if (first > ZERO && first <= NINE) {
      p++;
      while (p < e && isDigit(b[p]!)) p++;
    } else {
      this.pos = p;
      throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a digit');
    }
    if (p < e && b[p] === DOT) p = this.digits(p + 1);
    if (p < e && (b[p] === LOWER_E || b[p] === UPPER_E)) {
      p++;
      if (p < e && (b[p] === PLUS || b[p] === MINUS)) p++;
      p = this.digits(p);
    }
    // More digits may follow in the next message.
    if (p >= e && !this.final) this.moreAt(p);
    this.pos = p;
    return this.buf.latin1Slice(start, p);
  }

  private digits(from: number): number {
    const b = this.bytes;
    const e = this.end;
    let p = from;
    while (p < e && isDigit(b[p]!)) p++;
    if (p === from) {
      if (p >= e) this.moreAt(p);
      this.pos = p;
      throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a digit');
    }
    return p;
  }

  /** The view ended at `p` inside a value: see more(). */
  moreAt(p: number): never {
    this.pos = p;
    return this.more();
  }

  /** A string body from `start` to `end` (exclusive) must fit the limit. */
  private checkLength(start: number, end: number): void {
    if (end - start > this.limits.maxStringBytes) {
      throw this.fail(
        'WALDUCK_WAL2JSON_TOO_LONG',
        `string longer than ${this.limits.maxStringBytes} bytes`,
        start,
      );
    }
  }

  /** JSON strings may not hold a raw control character (U+0000 to U+001F). */
  private controlCharacter(p: number): Wal2JsonError {
    this.pos = p;
    return this.fail('WALDUCK_WAL2JSON_SYNTAX', 'control character inside a string');
  }

  /** A non-negative integer that fits 32 bits (xid, type OID), read without making a string. */
  uint32(): number {
    const c = this.ws();
    if (!isDigit(c)) throw this.wrongType('an unsigned integer');
    const b = this.bytes;
    const e = this.end;
    const start = this.pos;
    let p = start;
    let n = 0;
    while (p < e && isDigit(b[p]!)) {
      n = n * 10 + (b[p]! - ZERO);
      p++;
    }
    const next = p < e ? b[p]! : -1;
    if (next === DOT || next === LOWER_E || next === UPPER_E || (p >= e && !this.final)) {
      // Not a plain integer (or it may go on in the next message): take the general path.
      const text = this.numberText();
      throw this.fail('WALDUCK_WAL2JSON_SHAPE', `expected a 32-bit unsigned integer, got ${text}`, start);
    }
    if (c === ZERO && p - start > 1)
      throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'number with a leading zero', start);
    if (p - start > 10 || n > 0xffff_ffff) {
      this.pos = start;
      throw this.fail('WALDUCK_WAL2JSON_SHAPE', 'expected a 32-bit unsigned integer', start);
    }
    this.pos = p;
    return n;
  }

  /**
   * If the next value is a string of one ASCII character with no escape ("I"), consumes it and
   * returns its code; otherwise consumes nothing and returns -1 (the caller reads it the general way).
   */
  asciiChar(): number {
    if (this.ws() !== QUOTE) return -1;
    const b = this.bytes;
    const p = this.pos;
    if (p + 2 >= this.end || b[p + 2] !== QUOTE) return -1;
    const c = b[p + 1]!;
    if (c < 0x20 || c >= 0x80 || c === QUOTE || c === BACKSLASH) return -1;
    this.pos = p + 3;
    return c;
  }

  /**
   * If the next bytes (after whitespace) are exactly `p.bytes[from..to)`, consumes them and returns
   * true; otherwise consumes nothing but whitespace. For bytes recorded from a value read earlier: the
   * same bytes read the same (v2-prefix.ts). Compared four bytes at a time (a DataView read is
   * inlined; a byte loop took twice as long, and a native compare costs its call).
   */
  skipIfNext(p: RecordedBytes, from: number, to: number): boolean {
    if (this.atEnd()) return false;
    const at = this.pos;
    const n = to - from;
    if (at + n > this.end) return false;
    const b = this.bytes;
    const v = this.view(b);
    const base = b.byteOffset + at;
    const pv = p.view;
    let i = 0;
    for (; i + 4 <= n; i += 4) if (v.getUint32(base + i) !== pv.getUint32(from + i)) return false;
    const pb = p.bytes;
    for (; i < n; i++) if (b[at + i] !== pb[from + i]) return false;
    this.pos = at + n;
    return true;
  }

  /** A DataView of the whole ArrayBuffer under `b` (offsets in it are b.byteOffset + offsets in b). */
  private view(b: Uint8Array): DataView {
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

  /** A scalar value as wal2json prints a column: null, a number's text, a string, true/false. */
  value(): Value {
    const c = this.ws();
    switch (c) {
      case QUOTE:
        this.pos++;
        return this.stringBody();
      case LOWER_N:
        this.literal('null');
        return null;
      case LOWER_T:
        this.literal('true');
        return 'true';
      case LOWER_F:
        this.literal('false');
        return 'false';
      case LBRACE:
      case LBRACKET:
        throw this.fail('WALDUCK_WAL2JSON_SHAPE', 'expected a scalar value');
      default:
        if (c === MINUS || isDigit(c)) return this.numberText();
        throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a value');
    }
  }

  /** Skips any value (an unknown field), within the depth limit. */
  skip(): void {
    const c = this.ws();
    if (c === LBRACE) {
      this.openObject();
      let first = true;
      while (this.nextKey(first)) {
        first = false;
        this.skip();
      }
    } else if (c === LBRACKET) {
      this.openArray();
      let first = true;
      while (this.nextElem(first)) {
        first = false;
        this.skip();
      }
    } else if (c === QUOTE) {
      this.skipString();
    } else {
      this.value();
    }
  }

  /** The first `byte` at or after `from` in the view's buffer (native search), or -1. */
  indexOf(byte: number, from: number): number {
    return this.buf.indexOf(byte, from);
  }

  /** Skips a string without decoding it (escapes only need their backslash skipped). */
  private skipString(): void {
    const b = this.bytes;
    const e = this.end;
    const start = this.pos + 1;
    let p = start;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x === BACKSLASH) {
        // Validate the escape the slow way: rare in fields nobody reads.
        this.pos = start;
        this.stringBody();
        return;
      }
      if (x < 0x20) throw this.controlCharacter(p);
      p++;
    }
    this.checkLength(start, p);
    this.pos = p + 1;
  }

  private literal(word: string): void {
    const b = this.bytes;
    const p = this.pos;
    const n = word.length;
    for (let i = 0; i < n; i++) {
      if (p + i >= this.end) this.moreAt(p + i);
      if (b[p + i] !== word.charCodeAt(i)) {
        this.pos = p + i;
        throw this.fail('WALDUCK_WAL2JSON_SYNTAX', `expected ${word}`);
      }
    }
    this.pos = p + n;
  }
}

/** The tag keyTag() gives a key equal to `k` (compute once, at module load). */
export function keyTagOf(k: string): number {
  const n = k.length;
  if (n === 0) return 0;
  return (n << 16) | ((k.charCodeAt(0) & 0xff) << 8) | (k.charCodeAt(n - 1) & 0xff);
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
