// The JsonReader's string scanner (json-reader.ts): a string's body up to its closing quote, with a
// fast path (one slice of the view) when it holds no escape, a native search for the end of a long
// one, and the unescaping of the rest; and a string passed over without being decoded. Each leaves
// the reader's position after the closing quote.

import { BACKSLASH, LOWER_U, NINE, QUOTE, type ReaderState, ZERO } from './json-reader-state.js';

/** From this length on a string's end is searched natively (see scanString, skip-unread.ts). */
export const LONG_STRING = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids these raw in a string.
const CONTROL = /[\u0000-\u001f]/;

/** The rest of a string after its opening quote; leaves pos after the closing quote. */
export function scanString(r: ReaderState): string {
  const b = r.bytes;
  const e = r.end;
  const start = r.pos;
  let p = start;
  let ascii = true;
  for (;;) {
    if (p >= e) r.moreAt(p);
    const x = b[p]!;
    if (x === QUOTE) break;
    if (x === BACKSLASH) return stringEscaped(r, start, p);
    if (x < 0x20) throw r.controlCharacter(p);
    if (x >= 0x80) ascii = false;
    p++;
    // A long value (a TOASTed text): the rest is searched natively (memchr), not byte by byte.
    if (p - start === LONG_STRING) {
      const s = longString(r, start, e);
      if (s !== undefined) return s;
    }
  }
  r.checkLength(start, p);
  r.pos = p + 1;
  return ascii ? r.buf.latin1Slice(start, p) : r.buf.utf8Slice(start, p);
}

/**
 * The string from `start` (its first LONG_STRING bytes already seen plain) if its closing quote lies
 * in the view with no backslash before it and no control character in it; else undefined (the byte
 * loop goes on, escapes, errors and a view ending early included).
 */
function longString(r: ReaderState, start: number, e: number): string | undefined {
  const q = r.buf.indexOf(QUOTE, start + LONG_STRING);
  if (q < 0 || q >= e) return undefined;
  if (r.buf.subarray(start, q).indexOf(BACKSLASH) >= 0) return undefined;
  const s = r.buf.utf8Slice(start, q);
  if (CONTROL.test(s)) return undefined;
  r.checkLength(start, q);
  r.pos = q + 1;
  return s;
}

/** The slow path: a string with escapes, decoded piece by piece from `p` (at a backslash). */
function stringEscaped(r: ReaderState, start: number, p: number): string {
  const b = r.bytes;
  const e = r.end;
  let out = '';
  let seg = start;
  for (;;) {
    if (p >= e) r.moreAt(p);
    const x = b[p]!;
    if (x === QUOTE) break;
    if (x < 0x20) throw r.controlCharacter(p);
    if (x !== BACKSLASH) {
      p++;
      continue;
    }
    if (p > seg) out += r.buf.utf8Slice(seg, p);
    if (p + 1 >= e) r.moreAt(p + 1);
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
        if (p + 6 > e) r.moreAt(e);
        let code = 0;
        for (let i = p + 2; i < p + 6; i++) {
          const h = hexValue(b[i]!);
          if (h < 0) {
            r.pos = i;
            throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'bad \\u escape');
          }
          code = code * 16 + h;
        }
        // Surrogate halves are appended one by one: a JS string is UTF-16, so a pair joins itself.
        out += String.fromCharCode(code);
        p += 4;
        break;
      }
      default:
        r.pos = p;
        throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'bad escape in a string');
    }
    p += 2;
    seg = p;
  }
  r.checkLength(start, p);
  if (p > seg) out += r.buf.utf8Slice(seg, p);
  r.pos = p + 1;
  return out;
}

/** Skips a string (at its opening quote) without decoding it (escapes only need their backslash skipped). */
export function skipString(r: ReaderState): void {
  const b = r.bytes;
  const e = r.end;
  const start = r.pos + 1;
  let p = start;
  for (;;) {
    if (p >= e) r.moreAt(p);
    const x = b[p]!;
    if (x === QUOTE) break;
    if (x === BACKSLASH) {
      // Validate the escape the slow way: rare in fields nobody reads.
      r.pos = start;
      scanString(r);
      return;
    }
    if (x < 0x20) throw r.controlCharacter(p);
    p++;
  }
  r.checkLength(start, p);
  r.pos = p + 1;
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
