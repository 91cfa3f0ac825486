// How wal2json 2.5 writes a column's type name, compared with the catalog's format_type text.
//
// wal2json writes format_type's text as a JSON string, except when that text starts with a double
// quote and does not end in "]": then it writes the text as it is, taking format_type's quotes for
// JSON's. So `"char"`, `"user"` or `"Mood"` (a keyword, or a name needing quotes, in a schema on the
// search path) arrive as the strings char, user and Mood; `"Odd S"."My Enum"` is not JSON at all. A
// type the catalog prints quoted must therefore be compared with what wal2json makes of it, or every
// change of such a column looks like a type change. The broken form is read back to format_type's
// text (readTypeName), which is then the catalog's text exactly.

import type { JsonReader } from './json-reader.js';
import { COMMA, DOT, QUOTE, RBRACE, RBRACKET } from './json-reader-state.js';
import type { Reuse } from './reuse.js';

/** The type name as walduck's decoder reads it from wal2json, given the catalog's format_type text. */
export function typeAsWal2jsonWrites(formatType: string): string {
  if (!formatType.startsWith('"') || formatType.endsWith(']')) return formatType;
  try {
    const read: unknown = JSON.parse(formatType);
    return typeof read === 'string' ? read : formatType;
  } catch {
    return formatType; // not JSON: the decoder stops at such a change before anything compares it
  }
}

/** Whether the stream's type name is the catalog's (format_type) type. */
export function sameTypeName(stream: string, catalog: string): boolean {
  return stream === catalog || stream === typeAsWal2jsonWrites(catalog);
}

/**
 * A type name: a JSON string, or format_type's text written as it is ("Sales".st, "a""b"), read up to
 * the comma or bracket after it. A JSON string is read as readString does (a hit against the cached
 * name costs one comparison); only a string followed by a dot or a quote, which JSON never allows, is
 * taken again as the raw text.
 */
export function readTypeName(r: JsonReader, into: Reuse<string> | undefined): void {
  const want = into?.expected();
  const at = r.pos;
  if (want !== undefined && r.strEquals(want)) {
    if (!brokenAfter(r)) {
      into?.hit();
      return;
    }
    r.pos = at; // the cached name is only the first part of a broken one ("Sales" of "Sales".st)
  }
  r.ws();
  const open = r.pos;
  let s = r.string();
  if (brokenAfter(r)) s = rawTypeName(r, open);
  if (into === undefined) return;
  if (s === want) into.hit();
  else into.add(s);
}

/** Skips a type name (readTypeName without keeping it). */
export function skipTypeName(r: JsonReader): void {
  readTypeName(r, undefined);
}

function brokenAfter(r: JsonReader): boolean {
  const c = r.pos < r.end ? r.bytes[r.pos] : undefined;
  return c === DOT || c === QUOTE;
}

/** The bytes from the opening quote to the comma or closing bracket outside quotes, as text. */
function rawTypeName(r: JsonReader, open: number): string {
  const b = r.bytes;
  let quoted = false;
  let p = open;
  for (;;) {
    if (p >= r.end) r.moreAt(open);
    const c = b[p]!;
    if (c === QUOTE) quoted = !quoted;
    else if (!quoted && (c === COMMA || c === RBRACE || c === RBRACKET)) break;
    p++;
  }
  r.pos = p;
  return Buffer.from(b.buffer, b.byteOffset + open, p - open).toString('utf8');
}
