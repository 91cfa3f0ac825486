// Row changes dropped unread (DecoderOptions.skip): once a change's table is known to be declined,
// the rest of it is passed over without making a string or a value. v1 walks to the element's
// closing bracket (skipRest); a v2 line ends at its last byte (skipLine). They work on a JsonReader's
// view and position, as its own methods do.

import type { JsonReader } from './json-reader.js';
import { BACKSLASH, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from './json-reader-state.js';
import { LONG_STRING } from './json-string.js';

/** 1 for the bytes skipRest stops at outside strings: the quote and the four brackets. */
const STRUCTURE = new Uint8Array(256);
for (const c of [QUOTE, LBRACKET, RBRACKET, LBRACE, RBRACE]) STRUCTURE[c] = 1;

/**
 * Walks to the end of the object (or, with `close` ']', array) open at the reader's depth (a change
 * nobody will read) and closes it, making no string and no value: the bytes are only followed far
 * enough to find the closing bracket. Strings are crossed quote to quote (a backslash makes the next
 * byte plain), nesting is counted and each closer must match its opener, within the depth limit. What
 * lies inside is not checked further (a bad escape or number goes unnoticed): the caller drops it
 * anyway. A long string's end is searched natively, as the string scanner does (json-string.ts). Needs the whole
 * container in the view: a non-final view that ends inside it throws NEED_MORE (the v1 stream then
 * captures the element).
 */
export function skipRest(r: JsonReader, close: typeof RBRACE | typeof RBRACKET = RBRACE): void {
  const b = r.bytes;
  const e = r.end;
  const max = r.limits.maxDepth;
  const base = r.depth;
  // Openers above `base`, one bit each (1 = '{'): bits beyond 31 are not kept, only counted.
  let open = 0;
  let d = base;
  let p = r.pos;
  for (;;) {
    // Plain bytes (names, numbers, ':' and ',') in one tight loop; only the four brackets and the
    // quote stop it.
    while (p < e && STRUCTURE[b[p]!] === 0) p++;
    if (p >= e) r.moreAt(p);
    const x = b[p++]!;
    if (x === QUOTE) {
      const start = p;
      for (;;) {
        let y = 0;
        while (p < e) {
          y = b[p]!;
          if (y === QUOTE || y === BACKSLASH) break;
          p++;
          // A long value (a TOASTed text): the rest is searched natively, once per string.
          if (p - start === LONG_STRING) p = longSkip(r, p, e);
        }
        if (p >= e) r.moreAt(e);
        if (y === QUOTE) break;
        p += 2;
      }
      p++;
    } else if (x === LBRACE || x === LBRACKET) {
      if (++d > max) {
        r.pos = p - 1;
        throw r.fail('WALDUCK_WAL2JSON_TOO_DEEP', `nesting deeper than ${max}`);
      }
      const bit = d - base - 1;
      if (bit < 31) open = x === LBRACE ? open | (1 << bit) : open & ~(1 << bit);
    } else if (x === RBRACE || x === RBRACKET) {
      const bit = d - base - 1;
      if (d === base ? x !== close : bit < 31 && ((open >> bit) & 1) !== (x === RBRACE ? 1 : 0)) {
        r.pos = p - 1;
        throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'closing bracket does not match its opener');
      }
      if (d === base) break;
      d--;
    }
  }
  r.pos = p;
  r.depth = base - 1;
}

/**
 * Passes over the rest of a top-level object that is the whole (final) view, as a v2 line is: it
 * ends at the view's last byte that is not whitespace, which must be its '}'. Nothing inside is
 * looked at (skipRest does that much where the end is not known), so it costs nothing per byte.
 */
export function skipLine(r: JsonReader): void {
  if (!r.final || r.depth !== 1) {
    skipRest(r);
    return;
  }
  const b = r.bytes;
  let last = r.end - 1;
  while (last >= r.pos && (b[last] === 0x20 || b[last] === 0x0a || b[last] === 0x0d || b[last] === 0x09))
    last--;
  if (last < r.pos || b[last] !== RBRACE) {
    // Not a whole object: the walk finds and names what is wrong.
    skipRest(r);
    if (!r.atEnd()) throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'bytes after the JSON object');
    return;
  }
  r.pos = last + 1;
  r.depth = 0;
}

/**
 * Inside a long string being skipped, at `p` (past a plain run, or past an escape's two bytes): the
 * position of its closing quote found natively, or `p` back when a backslash comes first or the
 * view ends (the byte loop then goes on, and reports a view ending early).
 */
function longSkip(r: JsonReader, p: number, e: number): number {
  const q = r.indexOf(QUOTE, p);
  if (q < 0 || q >= e) return p;
  const bs = r.indexOf(BACKSLASH, p);
  return bs >= 0 && bs < q ? p : q;
}
