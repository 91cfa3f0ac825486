// The canonical text of a value, per type, as SQL for each side: PostgreSQL reading the source column
// and DuckDB reading the replica column must produce the same text for the same value. Everything
// verify hashes goes through here, so a change in how a type is mapped (src/sink/type-map.ts) is
// answered in this one file.
//
// | PostgreSQL (mapped to DuckDB)           | canonical text                                                 |
// |-----------------------------------------|----------------------------------------------------------------|
// | boolean                                 | t / f                                                          |
// | smallint, integer, bigint, oid          | decimal digits                                                 |
// | real, double precision                  | shortest round-trip digits of the double, as number form (*)   |
// | numeric(p,s) -> DECIMAL, money          | number form (*) of the exact value                             |
// | numeric unconstrained -> DOUBLE         | number form of the nearest double: TOLERANCE, the source value |
// |                                         | is rounded to a double (~16 digits) before it is compared       |
// | bytea                                   | lower-case hex, no \x                                          |
// | char(n)                                 | with its padding (PostgreSQL's output, not the text cast)      |
// | date, timestamp                         | ISO text; BC as " BC" suffix                                   |
// | timestamptz                             | ISO text in UTC with microseconds, "+00"                        |
// | time, timetz, uuid, json, jsonb         | the text both print alike (json as received, jsonb normalised) |
// | interval                                | months:days:microseconds, three integers                       |
// | T[]                                     | element count, then each element's canonical form (flattened)  |
// | everything stored as VARCHAR            | PostgreSQL's text output                                       |
//
// (*) number form: sign, significant digits without leading/trailing zeros, "e", decimal exponent of
// 0.DIGITS (123.450 -> 12345e3, 0.001 -> 1e-2, 0 -> 0, -0 -> -0); nan, inf, -inf. It makes
// PostgreSQL's "1e+15" and DuckDB's "1000000000000000.0" the same text.
//
// A column's part of the row text is its length, ":", its canonical text; NULL is "~". Lengths make
// the concatenation unambiguous (NULL differs from '', "a","bc" from "ab","c").

import type { SourceColumn } from '../sink/catalog.js';
import { type ColumnMapping, mapType, type PgType } from '../sink/type-map.js';

export type Side = 'pg' | 'duck';

export interface ColumnCanon {
  /** SQL giving the value's text straight from the column (may be NULL). */
  readonly raw: Readonly<Record<Side, (ref: string) => string>>;
  /** SQL turning that raw text (a column reference, evaluated once) into the canonical text. */
  readonly canon: (ref: string) => string;
  /** Set when the comparison is not exact: what is compared instead, said in the report. */
  readonly tolerance?: string;
}

const text = (ref: string) => `CAST(${ref} AS TEXT)`;
const same = (f: (ref: string) => string) => ({ pg: f, duck: f });
const identity = (ref: string) => ref;

/** The number form above, over the text of a number (both dialects: only common functions). */
export function numberForm(t: string): string {
  const a = `ltrim(lower(${t}), '+-')`;
  const mant = `split_part(${a}, 'e', 1)`;
  const exp = `CAST(coalesce(nullif(split_part(${a}, 'e', 2), ''), '0') AS INTEGER)`;
  const ip = `split_part(${mant}, '.', 1)`;
  const raw = `(${ip} || split_part(${mant}, '.', 2))`;
  const lead = `(length(${raw}) - length(ltrim(${raw}, '0')))`;
  const digits = `rtrim(ltrim(${raw}, '0'), '0')`;
  const sign = `CASE WHEN ${t} LIKE '-%' THEN '-' ELSE '' END`;
  return `CASE WHEN ${t} IS NULL THEN NULL
    WHEN lower(${t}) = 'nan' THEN 'nan'
    WHEN ${a} IN ('inf', 'infinity') THEN ${sign} || 'inf'
    WHEN ${digits} = '' THEN ${sign} || '0'
    ELSE ${sign} || ${digits} || 'e' || CAST(length(${ip}) + ${exp} - ${lead} AS TEXT) END`;
}

function scalar(t: PgType, mapping: ColumnMapping): ColumnCanon {
  switch (t.typname) {
    case 'bool': {
      const f = (ref: string) => `CASE WHEN ${ref} THEN 't' WHEN NOT ${ref} THEN 'f' END`;
      return { raw: same(f), canon: identity };
    }
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'uuid':
    case 'time':
    case 'timetz':
    case 'json':
    case 'jsonb':
      return { raw: same(text), canon: identity };
    case 'float4':
    case 'float8':
      return {
        raw: {
          pg: (r) => `CAST(CAST(${r} AS float8) AS TEXT)`,
          duck: (r) => `CAST(CAST(${r} AS DOUBLE) AS TEXT)`,
        },
        canon: numberForm,
      };
    case 'numeric':
      if (mapping.duckType === 'DOUBLE') {
        return {
          raw: { pg: (r) => `CAST(CAST(${r} AS float8) AS TEXT)`, duck: text },
          canon: numberForm,
          tolerance:
            'compared as the nearest double: unconstrained numeric is stored as DOUBLE, about 16 significant digits',
        };
      }
      return { raw: same(text), canon: numberForm };
    case 'money':
      return { raw: { pg: (r) => `CAST(CAST(${r} AS numeric) AS TEXT)`, duck: text }, canon: numberForm };
    case 'bytea':
      return { raw: { pg: (r) => `encode(${r}, 'hex')`, duck: (r) => `lower(hex(${r}))` }, canon: identity };
    case 'bpchar':
      // The cast to text strips char(n)'s padding; its output function (which concat calls) keeps it.
      return {
        raw: { pg: (r) => `CASE WHEN ${r} IS NOT NULL THEN concat(${r}) END`, duck: text },
        canon: identity,
      };
    case 'date':
    case 'timestamp':
    case 'timestamptz':
      // Both sessions run in UTC with ISO output; DuckDB writes a BC year as "(BC)".
      return {
        raw: { pg: text, duck: (r) => `replace(CAST(${r} AS TEXT), ' (BC)', ' BC')` },
        canon: identity,
      };
    case 'interval':
      return {
        raw: {
          pg: (r) =>
            `CAST(CAST(extract(year FROM ${r}) * 12 + extract(month FROM ${r}) AS bigint) AS TEXT) || ':' || CAST(CAST(extract(day FROM ${r}) AS bigint) AS TEXT) || ':' || CAST(CAST(extract(hour FROM ${r}) * 3600000000 + extract(minute FROM ${r}) * 60000000 + extract(microseconds FROM ${r}) AS bigint) AS TEXT)`,
          duck: (r) =>
            `CAST(datepart('year', ${r}) * 12 + datepart('month', ${r}) AS TEXT) || ':' || CAST(datepart('day', ${r}) AS TEXT) || ':' || CAST(datepart('hour', ${r}) * 3600000000 + datepart('minute', ${r}) * 60000000 + datepart('microseconds', ${r}) AS TEXT)`,
        },
        canon: identity,
      };
    default:
      // Stored as VARCHAR holding PostgreSQL's text (enum, inet, composite, text, citext, …).
      return { raw: same(text), canon: identity };
  }
}

/** A column's canonical form; `mapping` is how the sink stored it in DuckDB. */
export function columnCanon(col: SourceColumn): ColumnCanon {
  const mapping = mapType(col.type);
  const element = col.type.element;
  if (!element) return scalar(col.type, mapping);
  const dims = Math.max(1, col.type.dims ?? 1);
  const inner = mapType(element);
  // The sink keeps elements it cannot cast from their text as VARCHAR: compare PostgreSQL's text.
  const plain = inner.direct === true || inner.check === 'decimal';
  const el: ColumnCanon = plain ? scalar(element, inner) : { raw: same(text), canon: identity };
  const part = (side: Side, x: string) => columnPart(el.canon(el.raw[side](x)));
  const flat = (r: string) => {
    let f = r;
    for (let d = 1; d < dims; d++) f = `flatten(${f})`;
    return f;
  };
  return {
    raw: {
      pg: (r) =>
        `CASE WHEN ${r} IS NOT NULL THEN CAST(cardinality(${r}) AS TEXT) || ']' || (SELECT coalesce(string_agg(${part('pg', 'wd_e')}, '' ORDER BY wd_n), '') FROM unnest(${r}) WITH ORDINALITY AS wd_u(wd_e, wd_n)) END`,
      duck: (r) =>
        `CASE WHEN ${r} IS NOT NULL THEN CAST(len(${flat(r)}) AS TEXT) || ']' || array_to_string(list_transform(${flat(r)}, lambda wd_e: ${part('duck', 'wd_e')}), '') END`,
    },
    canon: identity,
    ...(el.tolerance ? { tolerance: `elements ${el.tolerance}` } : {}),
  };
}

/** One column's part of the row text: length ":" text, or "~" for NULL. */
export function columnPart(canonical: string): string {
  return `coalesce(CAST(length(${canonical}) AS TEXT) || ':' || ${canonical}, '~')`;
}

/** SQL for the 64-bit hash of a text: the first 16 hex digits of its md5, as each side reads them. */
export function hash64(side: Side, textSql: string): string {
  return side === 'pg'
    ? `('x' || substr(md5(${textSql}), 1, 16))::bit(64)::bigint`
    : `CAST('0x' || substr(md5(${textSql}), 1, 16) AS UBIGINT)`;
}
