// PostgreSQL -> DuckDB column types, following the mapping DuckDB's own postgres extension uses, and
// for each type the SQL expression that turns the staged exact text into the DuckDB value. All
// conversion happens in DuckDB's parsers (CAST from VARCHAR), never through a JS number; where DuckDB
// reads PostgreSQL's text wrongly, pg-temporal.ts rewrites it first (JS) or the `csv` SQL does.
//
// | PostgreSQL                         | DuckDB                 | conversion of the text          |
// |------------------------------------|------------------------|---------------------------------|
// | boolean                            | BOOLEAN                | CAST                            |
// | smallint / integer / bigint        | SMALLINT/INTEGER/BIGINT| CAST                            |
// | oid                                | UINTEGER               | CAST                            |
// | real / double precision            | FLOAT / DOUBLE         | CAST (NaN, ±Infinity kept)      |
// | numeric(p,s), p <= 38, 0 <= s <= p | DECIMAL(p,s)           | CAST (p > 18: via DECIMAL(18,s) when short); NaN/±Infinity refused |
// |   … with --numeric exact           | DECIMAL(p,s), VARCHAR after a NaN/±Infinity (exact-numeric.ts)   |
// | numeric (unconstrained or p > 38)  | DOUBLE                 | CAST; beyond DOUBLE's range or rounding to 0: refused (pg-temporal.ts) |
// |   … with --numeric exact           | DECIMAL(38,s) while the values fit, else VARCHAR (exact-numeric.ts): the digits without padding zeros |
// | money                              | DECIMAL(19,2)          | strip currency symbol and commas|
// | text, varchar(n), char(n), name    | VARCHAR                | as is (char keeps its padding)  |
// | bytea                              | BLOB                   | from_hex of the \x... text      |
// | date                               | DATE                   | BC -> astronomical year, CAST   |
// | time / timetz                      | TIME / TIMETZ          | CAST (24:00:00, offset seconds) |
// | timestamp / timestamptz            | TIMESTAMP / TIMESTAMPTZ| BC rewritten, beyond DuckDB's range refused, CAST (±infinity kept) |
// | interval                           | INTERVAL               | parsed field by field, CAST     |
// | uuid                               | UUID                   | CAST                            |
// | json / jsonb                       | JSON                   | CAST (json: appended, unchecked)|
// | T[] (any dims)                     | T'[] per dimension     | {..} -> JSON -> from_json, CAST |
// | domain                             | its base type          | as the base type                |
// | enum, composite, inet, cidr, macaddr, bit, xml, tsvector, ranges, other | VARCHAR | PostgreSQL's text |

import type { PgType } from '../source/catalog.js';
import { pgArrayToJson } from './pg-array.js';
import { pgDate, pgInterval, pgNumericAsDouble, pgNumericKeyAsDouble, pgTimestamp } from './pg-temporal.js';
import { NonFiniteElementError } from './stage-errors.js';

export type ValueCheck = 'decimal' | undefined;

/**
 * Under --numeric exact, what a numeric column holds in DuckDB now: a DECIMAL while every value fits
 * it, else PostgreSQL's text. It changes only forward (exact-numeric.ts), and the DuckDB table's own
 * column type is its record: read back on every start.
 */
export type ExactState = { readonly precision: number; readonly scale: number } | 'text';

/** A numeric column that --numeric exact may widen: its declared scale (undefined: unconstrained). */
export interface ExactColumn {
  readonly state: ExactState;
  /** The declared precision when at most 38 (DECIMAL(p,s) then), else undefined (DECIMAL(38,s)). */
  readonly precision: number | undefined;
  readonly scale: number | undefined;
}

export interface ColumnMapping {
  readonly duckType: string;
  /** SQL turning the VARCHAR expression `ref` into the DuckDB value. */
  convert(ref: string): string;
  /**
   * Rewrites the text in JS before staging, when DuckDB cannot parse PostgreSQL's form (arrays, BC
   * dates, mixed-sign intervals), or refuses it (ValueError) when DuckDB cannot hold the value.
   */
  readonly pre?: (text: string) => string;
  /**
   * SQL turning PostgreSQL's own text `ref` into the DuckDB value, for the snapshot's CSV path where no
   * JS runs; must fail (not store another value) where `pre` would throw. Absent: a mapping with `pre`
   * takes the parsed text path.
   */
  readonly csv?: (ref: string) => string;
  /** `decimal`: NaN and ±Infinity have no DECIMAL form; the sink refuses them (never stores another value). */
  readonly check?: ValueCheck;
  /** Set under --numeric exact for numeric columns: the sink widens the column when a value does not fit. */
  readonly exact?: ExactColumn;
  /**
   * The conversion is a plain CAST from VARCHAR (or none), which DuckDB's Appender performs itself
   * when a VARCHAR chunk goes into a column of this type: inserts can skip the staging table.
   */
  readonly direct?: boolean;
  /**
   * The text reaches the DuckDB type unchecked only through the Appender: every SQL cast from VARCHAR
   * checks it and refuses some values the source holds (json: a lone surrogate escape such as
   * `\ud800`, which PostgreSQL's json keeps as text). The column is staged in its DuckDB type (the
   * SQL's cast is then a no-op) and its table's snapshot takes the parsed path, never a CSV load, so
   * the replica holds the source's text whichever way a row came.
   */
  readonly appended?: boolean;
}

const cast = (t: string) => (ref: string) => `CAST(${ref} AS ${t})`;
const asIs = (ref: string) => ref;

const SIMPLE: Readonly<Record<string, string>> = {
  bool: 'BOOLEAN',
  int2: 'SMALLINT',
  int4: 'INTEGER',
  int8: 'BIGINT',
  oid: 'UINTEGER',
  float4: 'FLOAT',
  float8: 'DOUBLE',
  time: 'TIME',
  timetz: 'TIMETZ',
  uuid: 'UUID',
  // PostgreSQL checks jsonb's escapes on input (no lone surrogate); json keeps its text (below).
  jsonb: 'JSON',
};

/** numeric's typmod packs ((precision << 16) | scale) + 4; -1 means unconstrained. */
export function numericPrecision(typmod: number): { precision: number; scale: number } | undefined {
  if (typmod < 4) return undefined;
  const packed = typmod - 4;
  const precision = (packed >> 16) & 0xffff;
  // PostgreSQL 15 allows negative scales (stored as 11-bit two's complement).
  let scale = packed & 0x7ff;
  if (scale & 0x400) scale -= 0x800;
  return { precision, scale };
}

/** How unconstrained numeric (and numeric(p > 38)) is stored: DOUBLE (default) or exactly. */
export type NumericMode = 'double' | 'exact';

export interface MapOptions {
  readonly numeric?: NumericMode;
  /** The column identifies rows (a key, or any column of a keyless table): kept exact or refused. */
  readonly key?: boolean;
  /** Under --numeric exact, the column's current state (read from the DuckDB table); else its first. */
  readonly exactState?: ExactState;
}

/**
 * The DECIMAL(38,s) an unconstrained numeric starts at before any value was seen (an empty table, or
 * --no-snapshot): 29 integer and 9 fraction digits. The snapshot picks from the values instead.
 */
export const EXACT_DEFAULT_SCALE = 9;

/** The first state of a numeric column under --numeric exact, from its declaration alone. */
export function firstExactState(precision: number | undefined, scale: number | undefined): ExactState {
  if (precision !== undefined) return { precision, scale: scale ?? 0 };
  if (scale === undefined) return { precision: 38, scale: EXACT_DEFAULT_SCALE };
  // numeric(p > 38, s): PostgreSQL keeps s fraction digits (a negative scale keeps none).
  return scale > 38 ? 'text' : { precision: 38, scale: Math.max(0, scale) };
}

export function exactTypeName(s: ExactState): string {
  return s === 'text' ? 'VARCHAR' : `DECIMAL(${s.precision},${s.scale})`;
}

/**
 * A BC date or timestamp in SQL alone (the CSV path): "0044-03-15 BC" -> "-0043-03-15", as pgDate and
 * pgTimestamp do in JS; DuckDB's cast then fails (never wraps) on a timestamp beyond its range.
 */
function bcAware(t: string): (ref: string) => string {
  return (ref) =>
    `CASE WHEN ends_with(${ref}, ' BC') THEN CAST('-' || lpad(CAST(CAST(split_part(${ref}, '-', 1) AS INTEGER) - 1 AS VARCHAR), 4, '0') || substr(${ref}, strpos(${ref}, '-'), length(${ref}) - strpos(${ref}, '-') - 2) AS ${t}) ELSE CAST(${ref} AS ${t}) END`;
}

/**
 * numeric -> DOUBLE in SQL alone (the CSV path), failing where pgNumericAsDouble throws: the value is
 * swapped for a text no cast reads (not error(), which TRY cannot catch when diagnosing the row).
 */
function doubleChecked(ref: string): string {
  const d = `TRY_CAST(${ref} AS DOUBLE)`;
  const bad = `(isinf(${d}) AND ${ref} NOT IN ('Infinity', '-Infinity')) OR (${d} = 0 AND regexp_matches(split_part(lower(${ref}), 'e', 1), '[1-9]'))`;
  return `CAST(CASE WHEN ${bad} THEN 'beyond DOUBLE''s range: ' || left(${ref}, 30) ELSE ${ref} END AS DOUBLE)`;
}

/** doubleChecked for a key column, failing where pgNumericKeyAsDouble throws (beyond 15 digits). */
function doubleKeyChecked(ref: string): string {
  const d = `TRY_CAST(${ref} AS DOUBLE)`;
  const digits = `length(trim(regexp_replace(split_part(lower(${ref}), 'e', 1), '[^0-9]', '', 'g'), '0'))`;
  const inexact = `(${ref} NOT IN ('NaN', 'Infinity', '-Infinity') AND (${digits} > 15 OR (${d} <> 0 AND abs(${d}) < 2.2250738585072014e-308)))`;
  return doubleChecked(
    `CASE WHEN ${inexact} THEN 'not exact as DOUBLE: ' || left(${ref}, 30) ELSE ${ref} END`,
  );
}

export function mapType(t: PgType, o: MapOptions = {}): ColumnMapping {
  if (t.element) return mapArray(t.element, Math.max(1, t.dims ?? 1), o);
  const simple = SIMPLE[t.typname];
  if (simple) return { duckType: simple, convert: cast(simple), direct: true };
  switch (t.typname) {
    case 'date':
      return { duckType: 'DATE', convert: cast('DATE'), pre: pgDate, csv: bcAware('DATE'), direct: true };
    case 'timestamp':
    case 'timestamptz': {
      const dt = t.typname === 'timestamp' ? 'TIMESTAMP' : 'TIMESTAMPTZ';
      return { duckType: dt, convert: cast(dt), pre: pgTimestamp, csv: bcAware(dt), direct: true };
    }
    case 'json':
      return { duckType: 'JSON', convert: cast('JSON'), direct: true, appended: true };
    case 'interval':
      return { duckType: 'INTERVAL', convert: cast('INTERVAL'), pre: pgInterval, direct: true };
    case 'numeric': {
      const p = numericPrecision(t.typmod);
      if (o.numeric === 'exact') return exactNumeric(p, o.exactState);
      if (p && p.precision <= 38 && p.scale >= 0 && p.scale <= p.precision) {
        const dt = `DECIMAL(${p.precision},${p.scale})`;
        if (p.precision <= 18 || p.scale > 18)
          return { duckType: dt, convert: cast(dt), check: 'decimal', direct: true };
        return { duckType: dt, convert: wideDecimal(p.scale, dt), check: 'decimal' };
      }
      return {
        duckType: 'DOUBLE',
        convert: cast('DOUBLE'),
        pre: o.key ? pgNumericKeyAsDouble : pgNumericAsDouble,
        csv: o.key ? doubleKeyChecked : doubleChecked,
        direct: true,
      };
    }
    case 'money':
      // Text output is locale-formatted ("-$1,234.56"); the digits, sign and point are what count.
      return {
        duckType: 'DECIMAL(19,2)',
        convert: (ref) => `CAST(regexp_replace(${ref}, '[^0-9.-]', '', 'g') AS DECIMAL(19,2))`,
      };
    case 'bytea':
      // Hex digits, two a byte: wal2json prints them bare ("00ff"), PostgreSQL's own text output
      // (bytea_output=hex, e.g. in COPY) with a leading "\x". Accept both.
      return {
        duckType: 'BLOB',
        convert: (ref) =>
          `from_hex(CASE WHEN starts_with(${ref}, '\\x') THEN substr(${ref}, 3) ELSE ${ref} END)`,
      };
    default:
      return { duckType: 'VARCHAR', convert: asIs, direct: true };
  }
}

/**
 * --numeric exact: a DECIMAL while the values fit (numeric(p <= 38, s) as DECIMAL(p,s), any other as
 * DECIMAL(38,s)), else PostgreSQL's text, the only DuckDB form that holds every numeric exactly (up
 * to 1000 digits, NaN, ±Infinity). The sink moves a column from one to the next (exact-numeric.ts).
 */
function exactNumeric(
  p: { precision: number; scale: number } | undefined,
  current: ExactState | undefined,
): ColumnMapping {
  const declared = p && p.precision <= 38 && p.scale >= 0 && p.scale <= p.precision ? p : undefined;
  const exact: ExactColumn = {
    precision: declared?.precision,
    scale: p?.scale,
    state: current ?? firstExactState(declared?.precision, p?.scale),
  };
  const s = exact.state;
  if (s === 'text') {
    // A declared scale makes PostgreSQL print exactly s fraction digits: its text is stable. An
    // unconstrained numeric keeps the digits it was given (1.5 may come as 1.50), while the rows
    // widened from a DECIMAL hold no padding: every text goes in without padding zeros, so a key
    // matches whichever way it was written.
    if (exact.scale !== undefined) return { duckType: 'VARCHAR', convert: asIs, direct: true, exact };
    return { duckType: 'VARCHAR', convert: unpaddedNumeric, exact };
  }
  const dt = exactTypeName(s);
  if (s.precision <= 18 || s.scale > 18)
    return { duckType: dt, convert: cast(dt), check: 'decimal', direct: true, exact };
  // Only a declared scale makes PostgreSQL print exactly s fraction digits (what wideDecimal counts on).
  const short = exact.scale === undefined ? shortDecimal(s.scale, dt) : wideDecimal(s.scale, dt);
  return { duckType: dt, convert: short, check: 'decimal', exact };
}

/**
 * DuckDB's VARCHAR -> DECIMAL cast above 18 digits (a 128-bit DECIMAL) is about 100 times slower than
 * below (5.8 s against 26 ms for 1M values, measured here). PostgreSQL prints exactly `scale` fraction
 * digits, so text of at most 18 characters holds at most 18 digits: cast it through DECIMAL(18,s),
 * exactly, and widen. Longer values take the slow cast.
 */
function wideDecimal(scale: number, dt: string): (ref: string) => string {
  return (ref) =>
    `CASE WHEN length(${ref}) <= 18 THEN CAST(CAST(${ref} AS DECIMAL(18,${scale})) AS ${dt}) ELSE CAST(${ref} AS ${dt}) END`;
}

/** A numeric's text without padding zeros after the point ("1.500" -> "1.5", "2.0" -> "2"). */
export function unpaddedNumeric(ref: string): string {
  return `CASE WHEN contains(${ref}, '.') THEN rtrim(rtrim(${ref}, '0'), '.') ELSE ${ref} END`;
}

/**
 * wideDecimal for an unconstrained numeric, whose text has as many fraction digits as the value was
 * given (1234567890123.5 is short but needs 13 integer digits, more than DECIMAL(18,9) has): the
 * short route also needs its integer digits to fit. Found by the opt-in property run.
 */
function shortDecimal(scale: number, dt: string): (ref: string) => string {
  return (ref) =>
    `CASE WHEN length(${ref}) <= 18 AND length(split_part(ltrim(${ref}, '-'), '.', 1)) <= ${18 - scale} THEN CAST(CAST(${ref} AS DECIMAL(18,${scale})) AS ${dt}) ELSE CAST(${ref} AS ${dt}) END`;
}

function mapArray(element: PgType, dims: number, o: MapOptions): ColumnMapping {
  // A list's element type cannot widen value by value: under --numeric exact a numeric list keeps
  // PostgreSQL's text per element unless its declaration fits a DECIMAL.
  const plainNumeric =
    o.numeric === 'exact' && element.typname === 'numeric' && mapType(element).check !== 'decimal';
  const inner: ColumnMapping = plainNumeric
    ? { duckType: 'VARCHAR', convert: asIs, direct: true }
    : // A list that identifies rows checks each element as a key value (pgNumericKeyAsDouble).
      mapType(element, o.key ? { key: true } : {});
  // Elements DuckDB cannot cast from their text (bytea, money) stay text. Every numeric casts (the
  // wide ones only slowly, which inside a list we accept).
  const plain = inner.direct === true || inner.check === 'decimal';
  const elemType = plain ? inner.duckType : 'VARCHAR';
  const suffix = '[]'.repeat(dims);
  const shape = `${'['.repeat(dims)}"VARCHAR"${']'.repeat(dims)}`;
  const duckType = `${elemType}${suffix}`;
  return {
    duckType,
    convert: (ref) =>
      elemType === 'VARCHAR'
        ? `from_json(${ref}, '${shape}')`
        : `CAST(from_json(${ref}, '${shape}') AS ${duckType})`,
    pre: (text) =>
      pgArrayToJson(text, plain ? elementPre(inner, duckType) : undefined, element.delim ?? ',', dims),
  };
}

/** A list element's rewrite: the element type's own, and for DECIMAL elements the NaN/±Infinity refusal. */
function elementPre(inner: ColumnMapping, listType: string): ((text: string) => string) | undefined {
  if (inner.check !== 'decimal') return inner.pre;
  const pre = inner.pre;
  return (text) => {
    if (text === 'NaN' || text === 'Infinity' || text === '-Infinity')
      throw new NonFiniteElementError(listType, text);
    return pre ? pre(text) : text;
  };
}
