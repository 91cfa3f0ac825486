// The JsonReader's number and literal scanning (json-reader.ts). Numbers are never converted: their
// source text is checked against the JSON grammar and handed out as is, so int8 and numeric stay
// exact; only a 32-bit unsigned integer (an xid, a type OID) is read as a number, without a string.
// A number that reaches the end of a non-final view may go on in the next message: NEED_MORE.

import { DOT, LOWER_E, MINUS, NINE, PLUS, type ReaderState, UPPER_E, ZERO } from './json-reader-state.js';

/** A JSON number's source text, validated against the JSON grammar. */
export function scanNumber(r: ReaderState): string {
  const b = r.bytes;
  const e = r.end;
  const start = r.pos;
  let p = start;
  if (b[p] === MINUS) p++;
  if (p >= e) r.moreAt(p);
  const first = b[p]!;
  if (first === ZERO) p++;
  else if (first > ZERO && first <= NINE) {
    p++;
    while (p < e && isDigit(b[p]!)) p++;
  } else {
    r.pos = p;
    throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a digit');
  }
  if (p < e && b[p] === DOT) p = digits(r, p + 1);
  if (p < e && (b[p] === LOWER_E || b[p] === UPPER_E)) {
    p++;
    if (p < e && (b[p] === PLUS || b[p] === MINUS)) p++;
    p = digits(r, p);
  }
  // More digits may follow in the next message.
  if (p >= e && !r.final) r.moreAt(p);
  r.pos = p;
  return r.buf.latin1Slice(start, p);
}

function digits(r: ReaderState, from: number): number {
  const b = r.bytes;
  const e = r.end;
  let p = from;
  while (p < e && isDigit(b[p]!)) p++;
  if (p === from) {
    if (p >= e) r.moreAt(p);
    r.pos = p;
    throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a digit');
  }
  return p;
}

/** A non-negative integer that fits 32 bits (xid, type OID), read without making a string. */
export function scanUint32(r: ReaderState): number {
  const c = r.ws();
  if (!isDigit(c)) throw r.wrongType('an unsigned integer');
  const b = r.bytes;
  const e = r.end;
  const start = r.pos;
  let p = start;
  let n = 0;
  while (p < e && isDigit(b[p]!)) {
    n = n * 10 + (b[p]! - ZERO);
    p++;
  }
  const next = p < e ? b[p]! : -1;
  if (next === DOT || next === LOWER_E || next === UPPER_E || (p >= e && !r.final)) {
    // Not a plain integer (or it may go on in the next message): take the general path.
    const text = scanNumber(r);
    throw r.fail('WALDUCK_WAL2JSON_SHAPE', `expected a 32-bit unsigned integer, got ${text}`, start);
  }
  if (c === ZERO && p - start > 1)
    throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'number with a leading zero', start);
  if (p - start > 10 || n > 0xffff_ffff) {
    r.pos = start;
    throw r.fail('WALDUCK_WAL2JSON_SHAPE', 'expected a 32-bit unsigned integer', start);
  }
  r.pos = p;
  return n;
}

/** Consumes the literal `word` (null, true, false), which the next byte already started. */
export function scanLiteral(r: ReaderState, word: string): void {
  const b = r.bytes;
  const p = r.pos;
  const n = word.length;
  for (let i = 0; i < n; i++) {
    if (p + i >= r.end) r.moreAt(p + i);
    if (b[p + i] !== word.charCodeAt(i)) {
      r.pos = p + i;
      throw r.fail('WALDUCK_WAL2JSON_SYNTAX', `expected ${word}`);
    }
  }
  r.pos = p + n;
}

export function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}
