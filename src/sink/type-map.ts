// PostgreSQL -> DuckDB column types, following the mapping DuckDB's own postgres extension uses, and
// for each type the SQL expression that turns the staged exact text into the DuckDB value. All
// conversion happens in DuckDB's parsers (CAST from VARCHAR), never through a JS number.
//
// | PostgreSQL                         | DuckDB                 | conversion of the text          |
// |------------------------------------|------------------------|---------------------------------|
// | boolean                            | BOOLEAN                | CAST                            |
// | smallint / integer / bigint        | SMALLINT/INTEGER/BIGINT| CAST                            |
// | oid                                | UINTEGER               | CAST                            |
// | real / double precision            | FLOAT / DOUBLE         | CAST (NaN, ±Infinity kept)      |
// | numeric(p,s), p <= 38, 0 <= s <= p | DECIMAL(p,s)           | CAST (p > 18: via DECIMAL(18,s) when short); NaN/±Infinity -> NULL |
// | numeric (unconstrained or p > 38)  | DOUBLE                 | CAST                            |
// | money                              | DECIMAL(19,2)          | strip currency symbol and commas|
// | text, varchar(n), char(n), name    | VARCHAR                | as is (char keeps its padding)  |
// | bytea                              | BLOB                   | from_hex of the \x... text      |
// | date / time / timetz               | DATE / TIME / TIMETZ   | CAST                            |
// | timestamp / timestamptz            | TIMESTAMP / TIMESTAMPTZ| CAST (±infinity kept)           |
// | interval                           | INTERVAL               | CAST                            |
// | uuid                               | UUID                   | CAST                            |
// | json / jsonb                       | JSON                   | CAST                            |
// | T[] (any dims)                     | T'[] per dimension     | {..} -> JSON -> from_json, CAST |
// | domain                             | its base type          | as the base type                |
// | enum, composite, inet, cidr, macaddr, bit, xml, tsvector, ranges, other | VARCHAR | PostgreSQL's text |

import type { PgType } from '../source/catalog.js';
import { pgArrayToJson } from './pg-array.js';

export type ValueCheck = 'decimal' | undefined;

export interface ColumnMapping {
  readonly duckType: string;
  /** SQL turning the VARCHAR expression `ref` into the DuckDB value. */
  convert(ref: string): string;
  /** Rewrites the text in JS before staging, when DuckDB cannot parse PostgreSQL's form (arrays). */
  readonly pre?: (text: string) => string;
  /** `decimal`: NaN and ±Infinity have no DECIMAL form; the sink stores NULL and warns once. */
  readonly check?: ValueCheck;
  /**
   * The conversion is a plain CAST from VARCHAR (or none), which DuckDB's Appender performs itself
   * when a VARCHAR chunk goes into a column of this type: inserts can skip the staging table.
   */
  readonly direct?: boolean;
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
  date: 'DATE',
  time: 'TIME',
  timetz: 'TIMETZ',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  interval: 'INTERVAL',
  uuid: 'UUID',
  json: 'JSON',
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

export function mapType(t: PgType): ColumnMapping {
  if (t.element) return mapArray(t.element, Math.max(1, t.dims ?? 1));
  const simple = SIMPLE[t.typname];
  if (simple) return { duckType: simple, convert: cast(simple), direct: true };
  switch (t.typname) {
    case 'numeric': {
      const p = numericPrecision(t.typmod);
      if (p && p.precision <= 38 && p.scale >= 0 && p.scale <= p.precision) {
        const dt = `DECIMAL(${p.precision},${p.scale})`;
        if (p.precision <= 18 || p.scale > 18)
          return { duckType: dt, convert: cast(dt), check: 'decimal', direct: true };
        return { duckType: dt, convert: wideDecimal(p.scale, dt), check: 'decimal' };
      }
      return { duckType: 'DOUBLE', convert: cast('DOUBLE'), direct: true };
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
 * DuckDB's VARCHAR -> DECIMAL cast above 18 digits (a 128-bit DECIMAL) is about 100 times slower than
 * below (5.8 s against 26 ms for 1M values, measured here). PostgreSQL prints exactly `scale` fraction
 * digits, so text of at most 18 characters holds at most 18 digits: cast it through DECIMAL(18,s),
 * exactly, and widen. Longer values take the slow cast.
 */
function wideDecimal(scale: number, dt: string): (ref: string) => string {
  return (ref) =>
    `CASE WHEN length(${ref}) <= 18 THEN CAST(CAST(${ref} AS DECIMAL(18,${scale})) AS ${dt}) ELSE CAST(${ref} AS ${dt}) END`;
}

function mapArray(element: PgType, dims: number): ColumnMapping {
  const inner = mapType(element);
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
    pre: pgArrayToJson,
  };
}
