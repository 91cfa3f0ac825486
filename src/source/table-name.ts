// A table's name as the user writes it (--tables, the library's options): "schema.table" or "table",
// quoted parts kept as written and unquoted ones folded as PostgreSQL folds them, each cut to the 63
// bytes PostgreSQL keeps. Apart from the catalog's readers: it asks the source nothing, and the CLI
// reads its options with it before any connection.

import type { TableRef } from '../wal2json/change.js';
import { CatalogError } from './catalog.js';

/** PostgreSQL's longest name, in bytes (NAMEDATALEN - 1). */
const MAX_NAME_BYTES = 63;

/**
 * A name cut to 63 bytes at a character boundary, as PostgreSQL's truncate_identifier() cuts every
 * identifier it reads (quoted or not): psql finds the table by its long name, and so does --tables.
 */
function clipIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  let bytes = 0;
  let out = '';
  for (const ch of name) {
    bytes += Buffer.byteLength(ch);
    if (bytes > MAX_NAME_BYTES) break;
    out += ch;
  }
  return out;
}

/**
 * The text of a U&"…" identifier: \XXXX and \+XXXXXX are code points, \\ a backslash (PostgreSQL's
 * default escape; a UESCAPE clause is not read). It is how walduck's lines write a name holding a
 * control character (shownIdent), so that such a name can be pasted back into --tables.
 */
function unescapeUnicode(text: string, spec: string): string {
  const bad = (why: string) =>
    new CatalogError(
      `invalid Unicode escape in table name ${JSON.stringify(spec)}: ${why}`,
      'WALDUCK_CATALOG',
    );
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    if (text[i + 1] === '\\') {
      out += '\\';
      i++;
      continue;
    }
    const long = text[i + 1] === '+';
    const hex = text.slice(i + (long ? 2 : 1), i + (long ? 8 : 5));
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== (long ? 6 : 4))
      throw bad(`\\ must be followed by 4 hex digits, +6 hex digits, or \\`);
    const cp = Number.parseInt(hex, 16);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      throw bad(`U+${hex.toUpperCase()} is not a character a name can hold`);
    out += String.fromCodePoint(cp);
    i += hex.length + (long ? 1 : 0);
  }
  return out;
}

/**
 * "schema.table" or "table" (meaning public); a quoted part may hold dots: "my.schema"."t", and be
 * written U&"…" with escapes (as walduck's own lines write names holding control characters).
 */
export function parseTableName(spec: string): TableRef {
  const parts: string[] = [];
  let i = 0;
  const s = spec.trim();
  while (i < s.length) {
    let part = '';
    const unicode = (s[i] === 'U' || s[i] === 'u') && s[i + 1] === '&' && s[i + 2] === '"';
    if (unicode) i += 2;
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length)
          throw new CatalogError(
            `unterminated quote in table name ${JSON.stringify(spec)}`,
            'WALDUCK_CATALOG',
          );
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += s[i];
        i++;
      }
      if (unicode) part = unescapeUnicode(part, spec);
    } else {
      while (i < s.length && s[i] !== '.') part += s[i++];
      // Unquoted names fold to lower case as PostgreSQL's downcase_identifier() does in a UTF8
      // database: ASCII letters only. toLowerCase() also folded "Ünï" to "ünï", another schema.
      part = part.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
    }
    parts.push(clipIdentifier(part));
    if (i < s.length) {
      if (s[i] !== '.')
        throw new CatalogError(
          `unexpected character in table name ${JSON.stringify(spec)}`,
          'WALDUCK_CATALOG',
        );
      i++;
      // A dot ends a part and starts another: "s." names no table (it read as public.s).
      if (i === s.length) parts.push('');
    }
  }
  if (parts.length === 1 && parts[0]) return { schema: 'public', table: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { schema: parts[0], table: parts[1] };
  throw new CatalogError(
    `cannot read table name ${JSON.stringify(spec)}: use schema.table or table`,
    'WALDUCK_CATALOG',
  );
}

/**
 * A --tables list: names separated by commas outside double quotes ("a,b".t is one name), blanks
 * between commas ignored.
 */
export function parseTableList(text: string): TableRef[] {
  const specs: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted; // a doubled quote inside a name toggles twice
    if (ch === ',' && !quoted) {
      specs.push(cur);
      cur = '';
    } else cur += ch;
  }
  specs.push(cur);
  return specs
    .map((t) => t.trim())
    .filter(Boolean)
    .map(parseTableName);
}
