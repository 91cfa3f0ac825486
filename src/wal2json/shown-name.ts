// Names as walduck's output prints them for people: as PostgreSQL's quote_ident() writes them, so a
// plain name stays plain and `"a.b".c` is told from `a."b.c"`. What is printed can be pasted into psql
// or into --tables. (refName in change.ts stays unquoted: it is stored in replicas.)
import type { TableRef } from './change.js';

/**
 * PostgreSQL's keywords that quote_ident() quotes (every category but unreserved), as
 * `SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'` lists them on PostgreSQL 15.
 */
const KEYWORDS = new Set(
  `all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both
  case cast char character check coalesce collate collation column concurrently constraint create cross
  current_catalog current_date current_role current_schema current_time current_timestamp current_user dec
  decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign
  freeze from full grant greatest group grouping having ilike in initially inner inout int integer
  intersect interval into is isnull join lateral leading least left like limit localtime localtimestamp
  national natural nchar none normalize not notnull null nullif numeric offset on only or order out outer
  overlaps overlay placing position precision primary real references returning right row select
  session_user setof similar smallint some substring symmetric table tablesample then time timestamp to
  trailing treat trim true union unique user using values varchar variadic verbose when where window with
  xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize
  xmltable`.split(/\s+/),
);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is matched
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * One identifier: plain when quote_ident() leaves it plain, else in double quotes with `"` doubled.
 * A name holding a control character (a newline is legal in a PostgreSQL name) would split the
 * output's lines: it is written in PostgreSQL's own escaped form, U&"new\000aline", still one line and
 * still the same name to psql.
 */
export function shownIdent(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !KEYWORDS.has(name)) return name;
  const quoted = name.replaceAll('"', '""');
  if (!CONTROL.test(name)) return `"${quoted}"`;
  const escaped = [...quoted.replaceAll('\\', '\\\\')]
    .map((c) => (CONTROL.test(c) ? `\\${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}` : c))
    .join('');
  return `U&"${escaped}"`;
}

/** schema.table, each part as shownIdent writes it. */
export function shownName(t: TableRef): string {
  return `${shownIdent(t.schema)}.${shownIdent(t.table)}`;
}

/**
 * A name stored unquoted as "schema.table" (a partition in walduck.tables, a former name), shown as
 * shownName shows it when its one dot tells the parts apart. With several dots the parts cannot be
 * told apart again ("a.b.c": "a.b".c or a."b.c"), and it is shown as stored, not guessed.
 */
export function shownStoredName(stored: string): string {
  const dot = stored.indexOf('.');
  if (dot < 0 || stored.indexOf('.', dot + 1) >= 0) return stored;
  return shownName({ schema: stored.slice(0, dot), table: stored.slice(dot + 1) });
}
