// The JsonReader's number and literal scanning (json-reader.ts). Numbers are never converted: their
// source text is checked against the JSON grammar and handed out as is, so int8 and numeric stay
// exact; only a 32-bit unsigned integer (an xid, a type OID) is read as a number, without a string.
// A number that reaches the end of a non-final view may go on in the next message: NEED_MORE.

import { StringScanner } from './json-string.js';

// Declared here, not imported: see the byte constants in json-reader.ts.
const DOT = 0x2e; // '.'
const LOWER_E = 0x65; // 'e'
const MINUS = 0x2d; // '-'
const NINE = 0x39; // '9'
const PLUS = 0x2b; // '+'
const UPPER_E = 0x45; // 'E'
const ZERO = 0x30; // '0'

export class NumberScanner extends StringScanner {
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

  /** Consumes the literal `word` (null, true, false), which the next byte already started. */
  protected literal(word: string): void {
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

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}
