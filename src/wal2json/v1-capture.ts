// format-version 1, write-in-chunks: a value (a key, a header value, a whole change) that runs past the
// end of one XLogData message is captured here, byte for byte, until it ends in a later message; the
// document state machine (v1-stream.ts) then reads it from the reassembly buffer with the same reader
// it uses in place. The scanner only follows strings, escapes and nesting: it never parses.

import type { JsonReader } from './json-reader.js';
import { BACKSLASH, COMMA, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from './json-reader-state.js';

export interface V1Limits {
  readonly maxDepth: number;
  readonly maxStringBytes: number;
  readonly maxChangeBytes: number;
}

/**
 * Follows one JSON value across messages without parsing it: strings (with escapes), nesting, and
 * the delimiter that ends a bare number or literal. Copies the value's bytes once into a buffer that
 * grows by doubling, bounded by maxChangeBytes; enforces maxDepth and maxStringBytes on the way, so a
 * hostile stream cannot make it buffer without end.
 */
export class Capture {
  private buf = new Uint8Array(0);
  private len = 0;
  private depth = 0;
  private baseDepth = 0;
  private inString = false;
  private escape = false;
  private scalar = false;
  /** Position (in the capture) where the open string's body starts. */
  private stringStart = 0;

  constructor(private readonly limits: V1Limits) {}

  begin(first: number, baseDepth: number): void {
    this.len = 0;
    this.depth = 0;
    this.baseDepth = baseDepth;
    this.inString = false;
    this.escape = false;
    this.scalar = first !== QUOTE && first !== LBRACE && first !== LBRACKET;
  }

  /** Scans the reader's payload from `from`; returns where the value ends there, or -1 if it goes on. */
  feed(r: JsonReader, from: number): number {
    const b = r.bytes;
    const e = b.length;
    let i = from;
    let end = -1;
    if (this.scalar) {
      for (; i < e; i++) {
        const x = b[i]!;
        if (
          x === COMMA ||
          x === RBRACE ||
          x === RBRACKET ||
          x === 0x20 ||
          x === 0x0a ||
          x === 0x0d ||
          x === 0x09
        ) {
          end = i;
          break;
        }
      }
    } else {
      let depth = this.depth;
      let inString = this.inString;
      let afterBackslash = this.escape;
      const maxDepth = this.limits.maxDepth - this.baseDepth;
      for (; i < e; i++) {
        const x = b[i]!;
        if (inString) {
          if (afterBackslash) afterBackslash = false;
          else if (x === BACKSLASH) afterBackslash = true;
          else if (x === QUOTE) {
            inString = false;
            this.checkString(r, this.len + (i - from), i);
            if (depth === 0) {
              end = i + 1;
              break;
            }
          }
        } else if (x === QUOTE) {
          inString = true;
          this.stringStart = this.len + (i - from) + 1;
        } else if (x === LBRACE || x === LBRACKET) {
          if (++depth > maxDepth) {
            throw r.fail('WALDUCK_WAL2JSON_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`, i);
          }
        } else if (x === RBRACE || x === RBRACKET) {
          if (--depth <= 0) {
            if (depth < 0) throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'unbalanced closing bracket', i);
            end = i + 1;
            break;
          }
        }
      }
      this.depth = depth;
      this.inString = inString;
      this.escape = afterBackslash;
      if (end < 0 && inString) this.checkString(r, this.len + (e - from), e);
    }
    this.append(r, b, from, end < 0 ? e : end);
    return end;
  }

  private checkString(r: JsonReader, upTo: number, at: number): void {
    if (upTo - this.stringStart > this.limits.maxStringBytes) {
      throw r.fail('WALDUCK_WAL2JSON_TOO_LONG', `string longer than ${this.limits.maxStringBytes} bytes`, at);
    }
  }

  private append(r: JsonReader, b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n === 0) return;
    const need = this.len + n;
    if (need > this.limits.maxChangeBytes) {
      throw r.fail(
        'WALDUCK_WAL2JSON_TOO_LONG',
        `one change larger than ${this.limits.maxChangeBytes} bytes`,
        to,
      );
    }
    if (need > this.buf.length) {
      const grown = new Uint8Array(
        Math.min(this.limits.maxChangeBytes, Math.max(need, this.buf.length * 2, 4096)),
      );
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(b.subarray(from, to), this.len);
    this.len = need;
  }

  take(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** After use: a buffer grown for one huge change is not kept for the rest of the stream. */
  done(): void {
    this.len = 0;
    if (this.buf.length > 1 << 20) this.buf = new Uint8Array(0);
  }
}
