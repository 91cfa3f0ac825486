// The canonical text of a value, per type, as SQL for each side: PostgreSQL reading the source column
// and DuckDB reading the replica column must produce the same text for the same value. Everything
// verify hashes goes through here, so a change in how a type is mapped (src/sink/type-map.ts) is
// answered in this one file.
//
// The canonical text is PostgreSQL's own text output (session: TimeZone UTC, DateStyle ISO,
// extra_float_digits 3, bytea_output hex), except where noted; DuckDB's side is made to print it.
//
// | PostgreSQL -> DuckDB                      | canonical text                                            |
// |-------------------------------------------|-----------------------------------------------------------|
// | boolean                                   | t / f                                                     |
// | smallint, integer, bigint, oid            | decimal digits                                            |
// | real, double precision -> FLOAT, DOUBLE   | the double's shortest round-trip digits, PostgreSQL's     |
// |                                           | layout (1e+15, 0.1, -0, NaN, Infinity); real widened      |
// | numeric(p,s) -> DECIMAL(p,s)              | exactly s fraction digits (both print it so; DuckDB's     |
// |                                           | DECIMAL(p,p) .5 gets PostgreSQL's leading 0)              |
// | numeric unconstrained -> DOUBLE           | TOLERANCE: the source value rounded to the nearest double |
// |                                           | (PostgreSQL's numeric -> float8 cast reads the exact text |
// |                                           | correctly rounded, as DuckDB's VARCHAR -> DOUBLE did)     |
// | money -> DECIMAL(19,2)                    | the amount as numeric, 2 fraction digits                  |
// | bytea -> BLOB                             | lower-case hex, no \x                                     |
// | char(n)                                   | with its padding (the output function, not the text cast) |
// | inet, cidr, xml                           | the output function's text (their text casts differ)      |
// | date, timestamp                           | ISO; a BC year as PostgreSQL writes it (" BC")            |
// | timestamptz                               | ISO in UTC with microseconds, "+00"                       |
// | time, timetz, uuid                        | the text both print alike (timetz: see scalar())          |
// | json, jsonb -> JSON                       | the text (json as received, jsonb as PostgreSQL normalised)|
// | interval                                  | months:days:microseconds, three integers                  |
// | T[] -> LIST                               | element count "]" then each element's part (flattened,    |
// |                                           | row-major); elements by the rules here, or PostgreSQL's   |
// |                                           | text for elements the sink keeps as VARCHAR               |
// | everything stored as VARCHAR (enum, inet, | PostgreSQL's text output                                  |
// | composite, bit, ranges, xml, text, …)     |                                                           |
//
// A column's part of the row text is its length in bytes, ":", its canonical text; NULL is "~". Lengths make
// the concatenation unambiguous (NULL differs from '', "a","bc" from "ab","c").

import { mapType, numericPrecision } from '../sink/type-map.js';
import type { PgType, SourceColumn } from '../source/catalog.js';

export type Side = 'pg' | 'duck';

/** SQL giving a column's canonical text on each side (NULL for NULL). */
export interface ColumnCanon {
  readonly pg: (ref: string) => string;
  readonly duck: (ref: string) => string;
  /** Set when the comparison is not exact: what is compared instead, said in the report. */
  readonly tolerance?: string;
  /**
   * Which rule was chosen where the replica's column type decides it (numeric): the source side is
   * built before the catch-up, the replica side after, and both must have chosen alike.
   */
  readonly form?: string;
  /**
   * The text is one of a typed value (never a VARCHAR the replica could hold anything in) whose
   * characters exclude "|" and which never starts with "~": digits, signs, ".", ":", "-", " ", letters
   * of NaN/Infinity/BC, hex. Such a part is framed by a "|" after it instead of a length before it,
   * which costs a length and a number's text less per value on each side.
   */
  readonly bare?: boolean;
}

const text = (ref: string) => `CAST(${ref} AS TEXT)`;
const same = (f: (ref: string) => string): ColumnCanon => ({ pg: f, duck: f });
const bare = (c: ColumnCanon): ColumnCanon => ({ ...c, bare: true });
/** Types whose text both sides print alike and that are bare (see ColumnCanon.bare). */
const BARE_TEXT = new Set(['int2', 'int4', 'int8', 'oid', 'uuid', 'time']);

/**
 * DuckDB's DOUBLE text in PostgreSQL's form. Both print the shortest digits that read back as the
 * same double; they differ only in layout: DuckDB writes integral values with ".0" and 1e15 <= |x|
 * < 1e16 in fixed notation where PostgreSQL switches to an exponent, and spells nan/inf its own way.
 */
export function pgDoubleText(x: string): string {
  const digits = `rtrim(replace(ltrim(CAST(${x} AS TEXT), '-'), '.', ''), '0')`;
  return `CASE WHEN ${x} IS NULL THEN NULL
    WHEN isnan(${x}) THEN 'NaN'
    WHEN isinf(${x}) THEN CASE WHEN ${x} > 0 THEN 'Infinity' ELSE '-Infinity' END
    WHEN abs(${x}) >= 1e15 AND abs(${x}) < 1e16 THEN CASE WHEN ${x} < 0 THEN '-' ELSE '' END || left(${digits}, 1) || CASE WHEN length(${digits}) > 1 THEN '.' || substr(${digits}, 2) ELSE '' END || 'e+15'
    ELSE regexp_replace(CAST(${x} AS TEXT), '\\.0$', '') END`;
}

/**
 * Both sessions run in UTC with ISO output. DuckDB writes a BC year as "(BC)" after the date,
 * PostgreSQL " BC" at the very end (after the time and offset).
 */
function bcLast(r: string): string {
  return `CASE WHEN contains(CAST(${r} AS TEXT), ' (BC)') THEN replace(CAST(${r} AS TEXT), ' (BC)', '') || ' BC' ELSE CAST(${r} AS TEXT) END`;
}

function scalar(t: PgType, stored: string): ColumnCanon {
  switch (t.typname) {
    case 'bool':
      return bare(same((r) => `CASE WHEN ${r} THEN 't' WHEN NOT ${r} THEN 'f' END`));
    case 'float4':
    case 'float8':
      return {
        bare: true,
        pg: (r) => `CAST(CAST(${r} AS float8) AS TEXT)`,
        duck: (r) => pgDoubleText(`CAST(${r} AS DOUBLE)`),
      };
    case 'numeric':
      return numericCanon(t, stored);
    case 'money':
      return { pg: (r) => `CAST(CAST(${r} AS numeric) AS TEXT)`, duck: text, bare: true };
    case 'bytea':
      return { pg: (r) => `encode(${r}, 'hex')`, duck: (r) => `lower(hex(${r}))`, bare: true };
    case 'bpchar':
      // The cast to text strips char(n)'s padding; its output function (which concat calls) keeps it.
      return { pg: (r) => `CASE WHEN ${r} IS NOT NULL THEN concat(${r}) END`, duck: text };
    case 'date':
    case 'timestamp':
      return { pg: text, duck: bcLast, bare: true };
    case 'timestamptz':
      // DuckDB prints a TIMESTAMPTZ through ICU's calendar, several times slower than the same
      // instant as a TIMESTAMP rebuilt from its epoch microseconds (UTC, which the session is in).
      return {
        pg: text,
        duck: (r) =>
          `CASE WHEN isfinite(${r}) AND ${r} >= TIMESTAMPTZ '0001-01-01 00:00:00+00' THEN CAST(make_timestamp(epoch_us(${r})) AS TEXT) || '+00' ELSE ${bcLast(r)} END`,
        bare: true,
      };
    case 'timetz':
      // DuckDB holds an offset under a minute exactly but prints its seconds as minutes
      // ('00:00:00-00:00:01' as '00:00:00-00:01'); PostgreSQL prints hours, minutes and seconds.
      return bare({
        pg: text,
        duck: (r) =>
          `CASE WHEN abs(extract(timezone FROM ${r})) BETWEEN 1 AND 59 THEN regexp_replace(CAST(${r} AS TEXT), '([+-])00:(\\d\\d)$', '\\100:00:\\2') ELSE CAST(${r} AS TEXT) END`,
      });
    case 'inet':
    case 'cidr':
    case 'xml':
      // The text cast of inet prints the netmask always ("10.0.0.1/32"); the output function, whose
      // text the sink stores, leaves a host's out. xml's text cast keeps a default declaration
      // (<?xml version="1.0"?>) its output function drops. concat() calls the output function.
      return { pg: (r) => `CASE WHEN ${r} IS NOT NULL THEN concat(${r}) END`, duck: text };
    case 'interval':
      return {
        bare: true,
        pg: (r) =>
          `CAST(CAST(extract(year FROM ${r}) * 12 + extract(month FROM ${r}) AS bigint) AS TEXT) || ':' || CAST(CAST(extract(day FROM ${r}) AS bigint) AS TEXT) || ':' || CAST(CAST(extract(hour FROM ${r}) * 3600000000 + extract(minute FROM ${r}) * 60000000 + extract(microseconds FROM ${r}) AS bigint) AS TEXT)`,
        duck: (r) =>
          `CAST(datepart('year', ${r}) * 12 + datepart('month', ${r}) AS TEXT) || ':' || CAST(datepart('day', ${r}) AS TEXT) || ':' || CAST(datepart('hour', ${r}) * 3600000000 + datepart('minute', ${r}) * 60000000 + datepart('microseconds', ${r}) AS TEXT)`,
      };
    default:
      // Integers, uuid, time, json (as received), jsonb (normalised by PostgreSQL), and all that
      // is stored as VARCHAR holding PostgreSQL's text (enum, inet, composite, text, citext, …).
      return BARE_TEXT.has(t.typname) ? bare(same(text)) : same(text);
  }
}

/**
 * A column's canonical form, following how the sink stored it in DuckDB (src/sink/type-map.ts):
 * `stored` is the DuckDB column's type as information_schema spells it ("DECIMAL(38,4)", "DOUBLE[]"),
 * or, when unknown, the one the default mapping gives.
 */
export function columnCanon(col: SourceColumn, stored?: string): ColumnCanon {
  const type = (stored ?? mapType(col.type).duckType).toUpperCase();
  const element = col.type.element;
  if (!element) return scalar(col.type, type);
  const dims = Math.max(1, col.type.dims ?? 1);
  const elementType = type.replace(/(\[\])+$/, '');
  // The sink keeps elements it cannot cast from their text (bytea, money) as VARCHAR: compare
  // PostgreSQL's text.
  const inner = mapType(element);
  const plain = inner.direct === true || inner.check === 'decimal';
  const el: ColumnCanon = plain ? scalar(element, elementType) : same(text);
  // unnest() of an array of a composite type expands the fields into columns: read it as text[]
  // (the composite's output function, as the sink stores it).
  const arr = (r: string) => (element.typtype === 'c' ? `CAST(${r} AS TEXT[])` : r);
  // DuckDB nests one list per dimension; unnest() and cardinality() flatten PostgreSQL's already.
  const nesting = stored ? (type.match(/\[\]/g)?.length ?? dims) : dims;
  const flat = (r: string) => {
    let f = r;
    for (let d = 1; d < nesting; d++) f = `flatten(${f})`;
    return f;
  };
  return {
    pg: (r) =>
      `CASE WHEN ${r} IS NOT NULL THEN CAST(cardinality(${r}) AS TEXT) || ']' || (SELECT coalesce(string_agg(${columnPart('pg', el.pg('wd_e'), el.bare)}, '' ORDER BY wd_n), '') FROM unnest(${arr(r)}) WITH ORDINALITY AS wd_u(wd_e, wd_n)) END`,
    duck: (r) =>
      `CASE WHEN ${r} IS NOT NULL THEN CAST(len(${flat(r)}) AS TEXT) || ']' || array_to_string(list_transform(${flat(r)}, lambda wd_e: ${columnPart('duck', el.duck('wd_e'), el.bare)}), '') END`,
    form: `${dims}[${el.form}`,
    ...(el.tolerance ? { tolerance: `elements ${el.tolerance}` } : {}),
  };
}

/**
 * numeric as the replica holds it: DOUBLE (the default for unconstrained numeric: compared as the
 * nearest double, a stated tolerance), DECIMAL(p,s) or VARCHAR (exact). numeric(p,s) in DECIMAL(·,s)
 * or as PostgreSQL's text prints exactly s fraction digits on both sides; anything else (an
 * unconstrained numeric in DECIMAL(38,s), PostgreSQL's text of it in VARCHAR, a widened column holding
 * both) is compared without trailing fraction zeros, trim_scale() at the source: 1.500 = 1.5.
 */
function numericCanon(t: PgType, stored: string): ColumnCanon {
  if (stored === 'DOUBLE' || stored === 'FLOAT' || stored === 'REAL') {
    return {
      pg: (r) => `CAST(CAST(${r} AS float8) AS TEXT)`,
      duck: (r) => pgDoubleText(`CAST(${r} AS DOUBLE)`),
      form: 'numeric as double',
      bare: true,
      tolerance:
        'compared as the nearest double: unconstrained numeric is stored as DOUBLE, about 16 significant digits',
    };
  }
  const scale = numericPrecision(t.typmod)?.scale;
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(stored);
  const storedScale = decimal?.[2];
  // DuckDB prints a DECIMAL(p,p) without the integer digit PostgreSQL writes (.500, -.001 for
  // 0.500, -0.001): put it back. Other DECIMALs print it, and pay no regexp.
  const dtext =
    decimal && decimal[1] === decimal[2]
      ? (r: string) => `regexp_replace(CAST(${r} AS TEXT), '^(-?)\\.', '\\10.')`
      : text;
  if (scale !== undefined && (stored === 'VARCHAR' || storedScale === String(scale)))
    return stored === 'VARCHAR'
      ? { ...same(text), form: 'numeric fixed, as text' }
      : { pg: text, duck: dtext, form: 'numeric fixed', bare: true };
  return {
    pg: (r) => `CAST(trim_scale(${r}) AS TEXT)`,
    duck: (r) =>
      `CASE WHEN contains(${dtext(r)}, '.') THEN rtrim(rtrim(${dtext(r)}, '0'), '.') ELSE ${dtext(r)} END`,
    // Never bare: a column widened from DECIMAL to VARCHAR during the catch-up keeps this form.
    form: 'numeric trimmed',
  };
}

/**
 * One column's part of the row text: its length in bytes, ":", the text; or, for a bare text (see
 * ColumnCanon.bare), the text and "|"; "~" for NULL. Bytes, not characters: the same for UTF-8 on both
 * sides, and O(1) in PostgreSQL where length() counts.
 */
export function columnPart(side: Side, canonical: string, bare = false): string {
  if (bare) return `coalesce(${canonical} || '|', '~')`;
  const len = side === 'pg' ? 'octet_length' : 'strlen';
  return `coalesce(CAST(${len}(${canonical}) AS TEXT) || ':' || ${canonical}, '~')`;
}

/** SQL for the 64-bit hash of a text: the first 16 hex digits of its md5, as each side reads them. */
export function hash64(side: Side, textSql: string): string {
  return side === 'pg'
    ? `('x' || substr(md5(${textSql}), 1, 16))::bit(64)::bigint`
    : `CAST('0x' || substr(md5(${textSql}), 1, 16) AS UBIGINT)`;
}
