// A pull reader for JSON over a byte view: the caller asks for what it expects next (an object, a key,
// a string, a value's text) and the reader walks the bytes once, with no tokens and no per-byte
// allocation. Numbers are never converted: their source text is handed out as is, so int8 and numeric
// stay exact. Strings take a fast path (one slice of the view) when they hold no escape.
//
// This file is the structure (objects, arrays, keys, which value comes next). The class extends, in
// one chain, the number and literal scanner (json-number.ts), the string scanner (json-string.ts)
// and the reader's state with its two modes, final or not (json-reader-state.ts).

import type { Value } from './change.js';
import { NumberScanner } from './json-number.js';
import type { RecordedBytes } from './json-reader-state.js';

export { NEED_MORE, type ReaderLimits, type RecordedBytes } from './json-reader-state.js';
export { LONG_STRING } from './json-string.js';

// The bytes this file compares, declared here rather than imported: V8 loads an imported (or an
// exported) binding from its module cell, with a check, at each use; a module's own const it does
// not. A decode-only run under callgrind did 7% fewer instructions (v2 lines; 8% for a v1 document)
// with them declared in each file than imported from json-reader-state.ts.
const BACKSLASH = 0x5c; // '\'
const COLON = 0x3a; // ':'
const COMMA = 0x2c; // ','
const LBRACE = 0x7b; // '{'
const LBRACKET = 0x5b; // '['
const LOWER_F = 0x66; // 'f'
const LOWER_N = 0x6e; // 'n'
const LOWER_T = 0x74; // 't'
const MINUS = 0x2d; // '-'
const NINE = 0x39; // '9'
const QUOTE = 0x22; // '"'
const RBRACE = 0x7d; // '}'
const RBRACKET = 0x5d; // ']'
const ZERO = 0x30; // '0'

export class JsonReader extends NumberScanner {
  private keyStart = 0;
  private keyEnd = 0;
  /** The decoded key when it held an escape (then keyStart/keyEnd are unused). */
  private keyText: string | undefined;

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
        if (c === MINUS || (c >= ZERO && c <= NINE)) return this.numberText();
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
}

/** The tag keyTag() gives a key equal to `k` (compute once, at module load). */
export function keyTagOf(k: string): number {
  const n = k.length;
  if (n === 0) return 0;
  return (n << 16) | ((k.charCodeAt(0) & 0xff) << 8) | (k.charCodeAt(n - 1) & 0xff);
}
