// Property test over each mapped type's whole domain: fast-check generates rows (edge values weighted
// up: era boundaries, infinities, sign mixes, extreme precision, NULL-laden and nested arrays), a real
// server stores them, walduck replicates them by snapshot and by stream in both wal2json formats, and
// each value in DuckDB is compared with PostgreSQL's. The comparison never goes through walduck's own
// mapping: both sides reduce a value to numbers PostgreSQL and DuckDB compute independently (days
// since 1970, epoch microseconds, interval fields, hex of the bytes).
//
// The replicating role has DateStyle, IntervalStyle, TimeZone, extra_float_digits and bytea_output set
// to unusual values, and the server's TimeZone has LMT offsets with seconds: walduck's pinned session
// settings must make all of that irrelevant.
//
// CI runs a fixed seed; WALDUCK_PROPERTY_RUNS=n (and WALDUCK_PROPERTY_SEED=s) run a larger set.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const RUNS = Number(process.env.WALDUCK_PROPERTY_RUNS ?? 40);
const SEED = Number(process.env.WALDUCK_PROPERTY_SEED ?? 20261201);

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const lit = (s: string) => `convert_from(decode('${hex(s)}', 'hex'), 'UTF8')`;
const pad = (n: number | bigint, w = 2) => String(n).padStart(w, '0');

/** Weighted: a third of the values are edges. */
function edged<T>(gen: fc.Arbitrary<T>, ...edges: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: gen, weight: 2 }, { arbitrary: fc.constantFrom(...edges), weight: 1 });
}
const nullable = <T>(gen: fc.Arbitrary<T>) => fc.option(gen, { freq: 8, nil: null });

// DuckDB's TIMESTAMP ends at 294247-01-10 04:00:54.775806 UTC (PostgreSQL's goes on to 294276): values
// past it must stop replication, which a separate test checks.
const US_2000 = 946684800000000n;
const TS_MIN = -211813488000000000n; // 4713-11-24 BC 00:00:00, PostgreSQL's first
const TS_MAX = 9223372036854775806n - US_2000;
const DATE_MIN = -2451545; // days from 2000-01-01 to 4713-11-24 BC
const DATE_MAX = 2145031948; // to 5874897-12-31

const micros = (lo: bigint, hi: bigint, ...edges: bigint[]) => edged(fc.bigInt(lo, hi), ...edges);

function clock(us: bigint): string {
  const s = us / 1000000n;
  const f = us % 1000000n;
  return `${pad(s / 3600n)}:${pad((s / 60n) % 60n)}:${pad(s % 60n)}.${pad(f, 6)}`;
}

interface Column {
  readonly name: string;
  readonly type: string;
  readonly gen: fc.Arbitrary<string | null>;
  /** PostgreSQL expression reducing column `c` to comparable text (NULL stays NULL). */
  readonly pg: (c: string) => string;
  /** DuckDB expression doing the same to the replica's column. */
  readonly duck: (c: string) => string;
  /** wal2json prints NaN/±Infinity of floats and numerics as JSON null (README): lost when streamed. */
  readonly streamLosesNonFinite?: boolean;
  /**
   * How the value compares: `float` and `double` (unconstrained numeric under the default mapping) as
   * JS numbers of round-trip texts; `exact` (any numeric under --numeric exact) by value, as
   * PostgreSQL's trim_scale against DuckDB's text without padding zeros.
   */
  readonly numeric?: 'float' | 'double';
}

const finiteOr = (test: string, c: string, value: string) =>
  `CASE WHEN ${test} THEN ${value} ELSE ${c}::text END`;

const COLUMNS: Column[] = [
  {
    name: 'i2',
    type: 'smallint',
    gen: nullable(edged(fc.integer({ min: -32768, max: 32767 }), -32768, 32767, 0)).map((v) =>
      v === null ? null : String(v),
    ),
    pg: (c) => `${c}::text`,
    duck: (c) => `${c}::VARCHAR`,
  },
  {
    name: 'i8',
    type: 'bigint',
    gen: nullable(micros(-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n - 1n)).map((v) =>
      v === null ? null : String(v),
    ),
    pg: (c) => `${c}::text`,
    duck: (c) => `${c}::VARCHAR`,
  },
  {
    name: 'f8',
    type: 'double precision',
    gen: nullable(fc.double()).map((v) => (v === null ? null : `'${Object.is(v, -0) ? '-0' : String(v)}'`)),
    // Shortest text that round-trips, then read as a JS number on both sides.
    pg: (c) => `${c}::text`,
    duck: (c) => `${c}::VARCHAR`,
    streamLosesNonFinite: true,
    numeric: 'float',
  },
  {
    name: 'f4',
    type: 'real',
    gen: nullable(fc.float()).map((v) => (v === null ? null : `'${Object.is(v, -0) ? '-0' : String(v)}'`)),
    pg: (c) => `${c}::float8::text`,
    duck: (c) => `${c}::DOUBLE::VARCHAR`,
    streamLosesNonFinite: true,
    numeric: 'float',
  },
  {
    name: 'n38',
    type: 'numeric(38,10)',
    gen: nullable(
      edged(
        fc
          .tuple(fc.boolean(), fc.stringMatching(/^[1-9][0-9]{0,27}$/), fc.stringMatching(/^[0-9]{1,10}$/))
          .map(([neg, i, f]) => `${neg ? '-' : ''}${i}.${f}`),
        `${'9'.repeat(28)}.${'9'.repeat(10)}`,
        `-${'9'.repeat(28)}.${'9'.repeat(10)}`,
        '0.0000000001',
        '0',
      ),
    ),
    pg: (c) => `${c}::text`,
    duck: (c) => `${c}::VARCHAR`,
  },
  {
    name: 'nu',
    type: 'numeric',
    // Within DOUBLE's range (beyond it replication stops: tested apart).
    gen: nullable(
      edged(
        fc
          .tuple(fc.boolean(), fc.stringMatching(/^[1-9][0-9]{0,60}$/), fc.stringMatching(/^[0-9]{0,40}$/))
          .map(([neg, i, f]) => `${neg ? '-' : ''}${i}${f ? `.${f}` : ''}`),
        `1${'0'.repeat(300)}`,
        `0.${'0'.repeat(300)}1`,
        '0.1',
        '-0',
        'NaN',
        'Infinity',
        '-Infinity',
      ),
    ).map((v) => (v === null ? null : `'${v}'::numeric`)),
    pg: (c) => `${c}::float8::text`,
    duck: (c) => `${c}::VARCHAR`,
    streamLosesNonFinite: true,
    numeric: 'double',
  },
  ...widening(),
  {
    name: 'd',
    type: 'date',
    gen: nullable(
      edged(fc.integer({ min: DATE_MIN, max: DATE_MAX }), DATE_MIN, DATE_MAX, -730120, -730486, 0).map(
        (n) => `(date '2000-01-01' + ${n})`,
      ),
    ).map((v) => v ?? null),
    pg: (c) => finiteOr(`isfinite(${c})`, c, `(${c} - date '1970-01-01')::text`),
    duck: (c) => `CASE WHEN isfinite(${c}) THEN (${c} - DATE '1970-01-01')::VARCHAR ELSE ${c}::VARCHAR END`,
  },
  {
    name: 'ts',
    type: 'timestamp',
    gen: nullable(
      fc.oneof(
        // 0001-01-01 AD minus one microsecond is the last of 1 BC.
        micros(TS_MIN, TS_MAX, TS_MIN, TS_MAX, -63082281600000001n, 0n).map(
          (us) => `(timestamp '2000-01-01' + interval '${us} microseconds')`,
        ),
        fc.constantFrom("'infinity'", "'-infinity'"),
      ),
    ),
    pg: (c) => finiteOr(`isfinite(${c})`, c, `(extract(epoch from ${c}) * 1000000)::bigint::text`),
    duck: (c) => `CASE WHEN isfinite(${c}) THEN epoch_us(${c})::VARCHAR ELSE ${c}::VARCHAR END`,
  },
  {
    name: 'tstz',
    type: 'timestamptz',
    gen: nullable(
      fc.oneof(
        micros(TS_MIN, TS_MAX, TS_MIN, TS_MAX, -2713910400000000n, 0n).map(
          (us) => `(timestamptz '2000-01-01 00:00:00+00' + interval '${us} microseconds')`,
        ),
        fc.constantFrom("'infinity'", "'-infinity'"),
      ),
    ),
    pg: (c) => finiteOr(`isfinite(${c})`, c, `(extract(epoch from ${c}) * 1000000)::bigint::text`),
    duck: (c) => `CASE WHEN isfinite(${c}) THEN epoch_us(${c})::VARCHAR ELSE ${c}::VARCHAR END`,
  },
  {
    name: 'tm',
    type: 'time',
    gen: nullable(micros(0n, 86400000000n, 0n, 86400000000n, 86399999999n).map((us) => `'${clock(us)}'`)),
    pg: (c) => `(extract(epoch from ${c}) * 1000000)::bigint::text`,
    duck: (c) => `epoch_us(${c})::VARCHAR`,
  },
  {
    name: 'tz',
    type: 'timetz',
    gen: nullable(
      fc
        .tuple(
          micros(0n, 86400000000n, 0n, 86400000000n),
          edged(fc.integer({ min: -57599, max: 57599 }), -57599, 57599, 0, 19800 + 15),
        )
        .map(([us, off]) => {
          const a = Math.abs(off);
          return `'${clock(us)}${off < 0 ? '-' : '+'}${pad(Math.floor(a / 3600))}:${pad(Math.floor(a / 60) % 60)}:${pad(a % 60)}'`;
        }),
    ),
    // Local time and offset, each as a number.
    pg: (c) =>
      `(extract(epoch from ${c}::time) * 1000000)::bigint::text || ' ' || extract(timezone from ${c})::text`,
    // Not DuckDB's text: it prints an offset of 9 seconds as "+00:09" (the value itself is right).
    duck: (c) =>
      `(datepart('hour', ${c})::BIGINT * 3600000000 + datepart('minute', ${c}) * 60000000 + datepart('microsecond', ${c}))::VARCHAR || ' ' || datepart('timezone', ${c})::VARCHAR`,
  },
  {
    name: 'iv',
    type: 'interval',
    gen: nullable(
      fc
        .tuple(
          edged(fc.integer({ min: -2147483647, max: 2147483647 }), 0, -1, 2147483647, -2147483647),
          edged(fc.integer({ min: -2147483647, max: 2147483647 }), 0, 1, -2147483647),
          micros(-(2n ** 62n), 2n ** 62n, 0n, -1n, 1n, 86400000000n),
        )
        .map(([m, d, us]) => {
          const neg = us < 0n;
          return `'${m} mons ${d} days ${neg ? '-' : '+'}${clock(neg ? -us : us)}'`;
        }),
    ),
    pg: (c) =>
      `(extract(year from ${c}) * 12 + extract(month from ${c}))::text || ' ' || extract(day from ${c})::text || ' ' || (extract(hour from ${c}) * 3600000000 + extract(minute from ${c}) * 60000000 + extract(microsecond from ${c}))::bigint::text`,
    duck: (c) =>
      `(datepart('year', ${c}) * 12 + datepart('month', ${c}))::VARCHAR || ' ' || datepart('day', ${c})::VARCHAR || ' ' || (datepart('hour', ${c})::BIGINT * 3600000000 + datepart('minute', ${c}) * 60000000 + datepart('microsecond', ${c}))::VARCHAR`,
  },
  {
    name: 'txt',
    type: 'text',
    gen: nullable(
      edged(
        fc.string({ unit: 'binary', maxLength: 40 }),
        '',
        '\u0001\u001f\u007f',
        '\ud83d\ude00 \u{10ffff} \uffff',
        ' "quoted" \\ back\nline\t',
      ),
    ).map((v) => (v === null ? null : lit(v.replaceAll('\u0000', '')))),
    pg: (c) => `encode(convert_to(${c}, 'UTF8'), 'hex')`,
    duck: (c) => `lower(hex(encode(${c})))`,
  },
  {
    name: 'byt',
    type: 'bytea',
    gen: nullable(fc.uint8Array({ maxLength: 40 })).map((v) =>
      v === null ? null : `decode('${Buffer.from(v).toString('hex')}', 'hex')`,
    ),
    pg: (c) => `encode(${c}, 'hex')`,
    duck: (c) => `lower(hex(${c}))`,
  },
  {
    name: 'jb',
    type: 'jsonb',
    gen: nullable(fc.jsonValue({ maxDepth: 3 })).map((v) => {
      const text = JSON.stringify(v);
      // jsonb refuses \u0000 (it cannot be text).
      return v === null || text.includes('\\u0000') ? null : `${lit(text)}::jsonb`;
    }),
    pg: (c) => `encode(convert_to(${c}::text, 'UTF8'), 'hex')`,
    duck: (c) => `lower(hex(encode(${c}::VARCHAR)))`,
  },
  {
    name: 'm',
    type: 'money',
    gen: nullable(micros(-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n - 1n, 0n)).map((v) =>
      v === null ? null : `(${v}::numeric / 100)::money`,
    ),
    pg: (c) => `${c}::numeric::text`,
    duck: (c) => `${c}::VARCHAR`,
  },
  {
    name: 'ai1',
    type: 'integer[]',
    gen: nullable(fc.array(nullable(fc.integer()), { maxLength: 5 })).map((a) =>
      a === null
        ? null
        : `'${JSON.stringify(a).replaceAll('[', '{').replaceAll(']', '}').replaceAll('null', 'NULL')}'::integer[]`,
    ),
    pg: (c) => `array_to_json(${c})::text`,
    duck: (c) => `to_json(${c})::VARCHAR`,
  },
  {
    name: 'ai2',
    type: 'bigint[][]',
    gen: nullable(
      fc.array(
        fc.array(nullable(edged(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), -(2n ** 63n), 2n ** 63n - 1n)), {
          minLength: 2,
          maxLength: 2,
        }),
        { minLength: 1, maxLength: 3 },
      ),
    ).map((a) =>
      a === null
        ? null
        : `'{${a.map((r) => `{${r.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`).join(',')}}'::bigint[][]`,
    ),
    // Text, not JSON numbers: a JS JSON parser would round int8.
    pg: (c) => `replace(replace(${c}::text, '{', '['), '}', ']')`,
    duck: (c) => `replace(${c}::VARCHAR, ' ', '')`,
  },
  {
    name: 'atx',
    type: 'text[]',
    gen: nullable(fc.array(nullable(fc.string({ unit: 'grapheme', maxLength: 8 })), { maxLength: 4 })).map(
      (a) =>
        a === null
          ? null
          : `ARRAY[${a.map((s) => (s === null ? 'NULL' : lit(s.replaceAll('\u0000', '')))).join(', ')}]::text[]`,
    ),
    pg: (c) => `encode(convert_to(array_to_json(${c})::text, 'UTF8'), 'hex')`,
    duck: (c) => `lower(hex(encode(to_json(${c})::VARCHAR)))`,
  },
  {
    name: 'adt',
    type: 'date[]',
    gen: nullable(
      fc.array(nullable(edged(fc.integer({ min: DATE_MIN, max: DATE_MAX }), DATE_MIN, -730486)), {
        maxLength: 4,
      }),
    ).map((a) =>
      a === null
        ? null
        : `ARRAY[${a.map((n) => (n === null ? 'NULL' : `date '2000-01-01' + ${n}`)).join(', ')}]::date[]`,
    ),
    pg: (c) =>
      `CASE WHEN ${c} IS NOT NULL THEN coalesce((SELECT string_agg(coalesce((x - date '1970-01-01')::text, 'N'), ',' ORDER BY o) FROM unnest(${c}) WITH ORDINALITY u(x, o)), '') END`,
    duck: (c) =>
      `array_to_string(list_transform(${c}, x -> coalesce((x - DATE '1970-01-01')::VARCHAR, 'N')), ',')`,
  },
  {
    name: 'abx',
    type: 'box[]',
    gen: nullable(
      fc.array(fc.tuple(fc.integer(), fc.integer(), fc.integer(), fc.integer()), { maxLength: 3 }),
    ).map((a) =>
      a === null
        ? null
        : `ARRAY[${a.map(([p, q, r, s]) => `box(point(${p},${q}), point(${r},${s}))`).join(', ')}]::box[]`,
    ),
    pg: (c) =>
      `CASE WHEN ${c} IS NOT NULL THEN coalesce((SELECT string_agg(x::text, '|' ORDER BY o) FROM unnest(${c}) WITH ORDINALITY u(x, o)), '') END`,
    duck: (c) => `array_to_string(${c}, '|')`,
  },
  ...textColumns(),
];

/** Types compared as PostgreSQL's own text under walduck's pinned settings (natives and VARCHAR-mapped). */
function textColumns(): Column[] {
  const asText = (name: string, type: string, gen: fc.Arbitrary<string>): Column => ({
    name,
    type,
    gen: nullable(gen),
    pg: (c) => `${c}::text`,
    duck: (c) => `${c}::VARCHAR`,
  });
  const int = fc.integer({ min: -1000, max: 1000 });
  return [
    asText('bo', 'boolean', fc.boolean().map(String)),
    asText('i4', 'integer', edged(fc.integer(), -2147483648, 2147483647).map(String)),
    asText(
      'u',
      'uuid',
      fc.uuid().map((v) => `'${v}'`),
    ),
    asText(
      'js',
      'json',
      fc
        .jsonValue({ maxDepth: 2 })
        .map((v) => `${lit(JSON.stringify(v, null, 1).replaceAll('\n', ' '))}::json`),
    ),
    // char(n) keeps its padding (its output function's text; a cast to text would trim it).
    {
      ...asText(
        'ch',
        'char(5)',
        fc.stringMatching(/^[a-z ]{0,5}$/).map((v) => `'${v}'`),
      ),
      pg: (c) => `bpcharout(${c})::text`,
    },
    asText('en', 'mood', fc.constantFrom("'sad'", "'ok'", "'happy'")),
    // A domain maps like its base type: numeric(10,2) -> DECIMAL(10,2).
    asText(
      'dm',
      'money2',
      fc.integer({ min: -999999999, max: 999999999 }).map((n) => `${n}::numeric / 100`),
    ),
    asText(
      'ip',
      'inet',
      fc.ipV4().map((v) => `'${v}/24'`),
    ),
    asText(
      'vb',
      'bit varying',
      fc.stringMatching(/^[01]{0,20}$/).map((v) => `B'${v}'`),
    ),
    // Its text depends on TimeZone and DateStyle: equal only because walduck pins them.
    asText(
      'tr',
      'tstzrange',
      fc
        .tuple(micros(-63082281600000000n, 2n ** 52n, 0n), fc.bigInt(0n, 2n ** 40n))
        .map(
          ([a, d]) =>
            `tstzrange(timestamptz '2000-01-01 00:00:00+00' + interval '${a} microseconds', timestamptz '2000-01-01 00:00:00+00' + interval '${a + d} microseconds')`,
        ),
    ),
    asText(
      'pt',
      'point',
      fc.tuple(int, int).map(([x, y]) => `point(${x}, ${y})`),
    ),
    // Hex of the text: psql's output would split a value with a newline and hide some characters.
    ...textColumnsMore((name, type, gen) => ({
      ...asText(name, type, gen),
      pg: (c) => `encode(convert_to(${c}::text, 'UTF8'), 'hex')`,
      duck: (c) => `lower(hex(encode(${c}::VARCHAR)))`,
    })),
  ];
}

/**
 * Under --numeric exact, numeric columns whose values make the stream widen them (exact-numeric.ts):
 * fraction digits that grow past the scale, integer digits that grow past 38 - scale (the scale then
 * shrinks), and a declared scale whose integer digits outgrow DECIMAL(38,s) into VARCHAR. Under the
 * default mapping they are DOUBLE, compared as doubles.
 */
function widening(): Column[] {
  const digits = (n: number) => fc.stringMatching(new RegExp(`^[1-9][0-9]{0,${n - 1}}$`));
  const col = (name: string, type: string, gen: fc.Arbitrary<string>): Column => ({
    name,
    type,
    gen: nullable(gen).map((v) => (v === null ? null : `'${v}'::numeric`)),
    pg: (c) => `${c}::float8::text`,
    duck: (c) => `${c}::VARCHAR`,
    numeric: 'double',
  });
  const signed = ([neg, i, f]: [boolean, string, string]) => `${neg ? '-' : ''}${i}${f ? `.${f}` : ''}`;
  return [
    // Scale growth: up to 25 fraction digits, few integer digits.
    col(
      'nxs',
      'numeric',
      edged(
        fc.tuple(fc.boolean(), digits(4), fc.stringMatching(/^[0-9]{0,25}$/)).map(signed),
        `0.${'0'.repeat(24)}1`,
        '1.5',
      ),
    ),
    // Integer growth: up to 34 integer digits, at most 4 fraction digits.
    col(
      'nxi',
      'numeric',
      edged(
        fc.tuple(fc.boolean(), digits(34), fc.stringMatching(/^[0-9]{0,4}$/)).map(signed),
        `${'9'.repeat(34)}.9999`,
        '0.5',
      ),
    ),
    // A declared scale beyond DECIMAL's precision: DECIMAL(38,4) until 35 integer digits, then text.
    col(
      'nxd',
      'numeric(50,4)',
      edged(
        fc.tuple(fc.boolean(), digits(46), fc.stringMatching(/^[0-9]{0,4}$/)).map(signed),
        `${'9'.repeat(34)}.9999`,
        `${'9'.repeat(46)}.9999`,
      ),
    ),
  ];
}

/** Types DuckDB has no native type for, and extension types, stored as PostgreSQL's text. */
function textColumnsMore(
  asText: (name: string, type: string, gen: fc.Arbitrary<string>) => Column,
): Column[] {
  const word = fc.stringMatching(/^[a-zA-Zà-ÿ0-9'&<>" ]{1,8}$/);
  const label = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
  const hexBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  const mac = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
  const day = edged(fc.integer({ min: DATE_MIN, max: DATE_MAX - 100 }), DATE_MIN, -730486);
  // Characters XML allows (no control characters but tab and newline), markup among them.
  const xmlText = fc
    .array(
      fc.constantFrom('a', 'Z', 'é', '😀', '\u{10ffff}', '<', '>', '&', '"', "'", ' ', '\t', '\n', ']]>'),
      {
        maxLength: 12,
      },
    )
    .map((cs) => cs.join(''));
  return [
    asText(
      'xm',
      'xml',
      fc.tuple(word, xmlText).map(([a, t]) => `xmlelement(name e, xmlattributes(${lit(a)} AS a), ${lit(t)})`),
    ),
    asText(
      'tv',
      'tsvector',
      fc.array(word, { maxLength: 5 }).map((ws) => `to_tsvector('simple', ${lit(ws.join(' '))})`),
    ),
    asText(
      'tq',
      'tsquery',
      fc.array(word, { maxLength: 4 }).map((ws) => `plainto_tsquery('simple', ${lit(ws.join(' '))})`),
    ),
    asText(
      'cd',
      'cidr',
      fc
        .oneof(
          fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })),
          fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })),
        )
        .map(([ip, len]) => `network('${ip}/${len}'::inet)`),
    ),
    asText(
      'mc',
      'macaddr',
      hexBytes(6).map((b) => `'${mac(b)}'::macaddr`),
    ),
    asText(
      'mc8',
      'macaddr8',
      hexBytes(8).map((b) => `'${mac(b)}'::macaddr8`),
    ),
    asText(
      'imr',
      'int4multirange',
      fc
        .array(fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 50 })), {
          maxLength: 3,
        })
        .map((rs) => `int4multirange(${rs.map(([a, n]) => `int4range(${a}, ${a + n})`).join(', ')})`),
    ),
    // Its text depends on DateStyle (BC years, infinity): equal only because walduck pins it.
    asText(
      'dmr',
      'datemultirange',
      fc
        .tuple(
          fc.array(fc.tuple(day, fc.integer({ min: 0, max: 100 })), { maxLength: 3 }),
          fc.constantFrom(
            [],
            [`daterange(NULL, date '1999-01-01')`],
            [`daterange('-infinity', date '0001-01-01')`],
          ),
        )
        .map(
          ([rs, open]) =>
            `datemultirange(${[...rs.map(([d, n]) => `daterange(date '2000-01-01' + ${d}, date '2000-01-01' + ${d + n})`), ...open].join(', ')})`,
        ),
    ),
    asText(
      'cp',
      'pair',
      fc
        .tuple(fc.option(fc.integer(), { nil: null }), fc.string({ unit: 'grapheme', maxLength: 8 }), day)
        .map(
          ([a, b, d]) =>
            `ROW(${a ?? 'NULL'}, ${lit(b.replaceAll('\u0000', ''))}, date '2000-01-01' + ${d})::pair`,
        ),
    ),
    asText(
      'ci',
      'citext',
      fc.string({ unit: 'grapheme', maxLength: 10 }).map((v) => `${lit(v.replaceAll('\u0000', ''))}::citext`),
    ),
    asText(
      'hs',
      'hstore',
      fc
        .array(fc.tuple(word, fc.option(word, { nil: null })), { maxLength: 4 })
        .map(
          (kv) =>
            `hstore(ARRAY[${kv.map(([k]) => lit(k)).join(', ')}]::text[], ARRAY[${kv.map(([, v]) => (v === null ? 'NULL' : lit(v))).join(', ')}]::text[])`,
        ),
    ),
    asText(
      'lt',
      'ltree',
      fc.array(label, { maxLength: 5 }).map((ls) => `${lit(ls.join('.'))}::ltree`),
    ),
  ];
}

const ROLE_SETTINGS = [
  "DateStyle = 'SQL, DMY'",
  "IntervalStyle = 'sql_standard'",
  "TimeZone = 'Europe/Amsterdam'",
  'extra_float_digits = -15',
  "bytea_output = 'escape'",
];

/** Numbers as JS numbers (exact round-trip texts on both sides), everything else as text. */
function same(col: Column, pg: string | null, duck: string | null, streamed: boolean): boolean {
  if (pg === duck) return true;
  if (pg === null || duck === null) {
    return (
      streamed &&
      col.streamLosesNonFinite === true &&
      duck === null &&
      ['NaN', 'Infinity', '-Infinity'].includes(pg ?? '')
    );
  }
  if (col.numeric !== undefined) {
    const num = (s: string) =>
      Number(
        s
          .replace(/^inf$/, 'Infinity')
          .replace(/^-inf$/, '-Infinity')
          .replace(/^nan$/, 'NaN'),
      );
    return Object.is(num(pg), num(duck));
  }
  return false;
}

describe('every mapped type over its domain (property, real server, snapshot and stream, v1 and v2)', () => {
  const c = useCluster({ settings: { timezone: "'America/St_Johns'", datestyle: "'Postgres, MDY'" } });
  const dir = useWorkdir('walduck-domain-');
  let rows: (string | null)[][] = [];
  before(() => {
    rows = fc.sample(fc.tuple(...COLUMNS.map((col) => col.gen)), { numRuns: RUNS, seed: SEED });
  });

  const src = () => conninfo(c.info, 'scram-sha-256');
  const user = () => c.info.roles['scram-sha-256'].user;
  const replicate = (file: string, table: string, slot: string, ...extra: string[]) =>
    runWalduck(
      [
        'replicate',
        '--source',
        src(),
        '--duckdb',
        join(dir, file),
        '--tables',
        table,
        '--slot',
        slot,
        '--until-caught-up',
        ...extra,
      ],
      {},
      180_000,
    );
  const ddl = (table: string) =>
    `CREATE EXTENSION IF NOT EXISTS citext; CREATE EXTENSION IF NOT EXISTS hstore; CREATE EXTENSION IF NOT EXISTS ltree; DO $$ BEGIN CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE DOMAIN money2 AS numeric(10,2); CREATE TYPE pair AS (a int, b text, c date); EXCEPTION WHEN duplicate_object THEN NULL; END $$; CREATE TABLE ${table} (id int PRIMARY KEY, ${COLUMNS.map((col) => `${col.name} ${col.type}`).join(', ')})`;
  const insert = (table: string) => {
    // Batches of 20 rows per statement.
    for (let start = 0; start < rows.length; start += 20) {
      const values = rows
        .slice(start, start + 20)
        .map((r, j) => `(${start + j}, ${r.map((v) => v ?? 'NULL').join(', ')})`)
        .join(',\n');
      psql(c.info, `INSERT INTO ${table} VALUES ${values}`);
    }
  };

  async function compare(file: string, table: string, streamed: boolean, exact = false): Promise<void> {
    // --numeric exact keeps every numeric's value: a DECIMAL(38,s), or PostgreSQL's text once widened.
    // Compared by value, digit for digit, without padding zeros (DECIMAL(38,9) prints 1.5 as 1.500000000).
    const trim = (v: string) =>
      `CASE WHEN contains(${v}, '.') THEN rtrim(rtrim(${v}, '0'), '.') ELSE ${v} END`;
    const byValue = (col: Column) => exact && col.numeric === 'double';
    const cols = COLUMNS.map((col) =>
      byValue(col)
        ? { ...col, pg: (c: string) => `trim_scale(${c})::text`, duck: (c: string) => trim(`${c}::VARCHAR`) }
        : col,
    );
    const fields = cols.map((col) => `coalesce(${col.pg(col.name)}, '\\N')`).join(', ');
    // The settings walduck pins: VARCHAR-mapped types (ranges, …) hold PostgreSQL's text under them.
    // Pages of 200 rows: psql's output of a large run would overflow the child-process buffer.
    const pgSql = (from: number) =>
      `SET extra_float_digits = 3; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SELECT concat_ws(E'\\x1f', id::text, ${fields}) FROM ${table} WHERE id >= ${from} AND id < ${from + 200} ORDER BY id`;
    const pgRows: (string | null)[][] = [];
    for (let from = 0; from < rows.length; from += 200)
      pgRows.push(
        ...psql(c.info, pgSql(from))
          .split('\n')
          .filter((l) => /^\d/.test(l))
          .map((l) => l.split('\x1f').map((v) => (v === '\\N' ? null : v))),
      );
    const db = await DuckDBInstance.create(join(dir, file), { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    let duckRows: (string | null)[][];
    try {
      const r = await conn.runAndReadAll(
        `SELECT id::VARCHAR, ${cols.map((col) => col.duck(col.name)).join(', ')} FROM ${table} ORDER BY id`,
      );
      duckRows = r.getRows().map((row) => row.map((v) => (v === null ? null : String(v))));
    } finally {
      conn.closeSync();
      db.closeSync();
    }
    assert.equal(duckRows.length, rows.length, `${file}: row count`);
    const wrong: string[] = [];
    for (let i = 0; i < rows.length; i++) {
      const p = pgRows[i] ?? [];
      const d = duckRows[i] ?? [];
      assert.equal(d[0], p[0], 'ids line up');
      cols.forEach((col, j) => {
        const pv = p[j + 1] ?? null;
        const dv = d[j + 1] ?? null;
        if (
          byValue(col)
            ? pv !== dv &&
              !(
                streamed &&
                col.streamLosesNonFinite &&
                dv === null &&
                ['NaN', 'Infinity', '-Infinity'].includes(pv ?? '')
              )
            : !same(col, pv, dv, streamed)
        )
          wrong.push(
            `row ${p[0]} ${col.name} ${col.type}: inserted ${rows[i]?.[j]}; PostgreSQL ${pv}; DuckDB ${dv}`,
          );
      });
    }
    assert.deepEqual(
      wrong.slice(0, 20),
      [],
      `${file}: ${wrong.length} value(s) differ (seed ${SEED}, ${RUNS} rows)`,
    );
  }

  /** The DuckDB types the numeric columns ended in (DECIMAL(38,s) or VARCHAR). */
  async function widenings(file: string, table: string): Promise<string[]> {
    const db = await DuckDBInstance.create(join(dir, file), { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    try {
      const r = await conn.runAndReadAll(
        `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = '${table}' AND column_name IN ('nu', 'nxs', 'nxi', 'nxd') ORDER BY ordinal_position`,
      );
      return r.getRows().map((row) => String(row[0]));
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  }

  it(`${RUNS} generated rows (seed ${SEED}) equal in DuckDB, under a role with unusual settings`, async (t) => {
    t.diagnostic(`property rows: ${RUNS}, seed: ${SEED}, columns: ${COLUMNS.length}`);
    psql(c.info, ROLE_SETTINGS.map((s) => `ALTER ROLE ${user()} SET ${s}`).join('; '));
    psql(c.info, `${ddl('snap')}; ${ddl('strm')}`);
    // Streamed: the slots exist (empty tables copied) before the rows arrive.
    for (const v of ['1', '2']) {
      const r = await replicate(`stream-v${v}.duckdb`, 'strm', `strm_v${v}`, '--format-version', v);
      assert.equal(r.code, 0, r.stderr);
    }
    insert('snap');
    insert('strm');
    // The snapshot is COPY whatever the format version (which only shapes the stream after it): one run.
    const r = await replicate('snap.duckdb', 'snap', 'snap_v2');
    assert.equal(r.code, 0, r.stderr);
    await compare('snap.duckdb', 'snap', false);
    for (const v of ['1', '2']) {
      const s = await replicate(`stream-v${v}.duckdb`, 'strm', `strm_v${v}`, '--format-version', v);
      assert.equal(s.code, 0, s.stderr);
      await compare(`stream-v${v}.duckdb`, 'strm', true);
    }
  });

  it("the same rows under the role's default settings with --numeric exact: snapshot, stream v1, stream v2", async (t) => {
    psql(c.info, `ALTER ROLE ${user()} RESET ALL; ${ddl('snapx')}; ${ddl('strmx')}`);
    const exact = ['--numeric', 'exact'];
    for (const v of ['1', '2']) {
      const r = await replicate(
        `stream-exact-v${v}.duckdb`,
        'strmx',
        `strmx_v${v}`,
        '--format-version',
        v,
        ...exact,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    insert('snapx');
    insert('strmx');
    const r = await replicate('snap-exact.duckdb', 'snapx', 'snapx_v2', ...exact);
    assert.equal(r.code, 0, r.stderr);
    await compare('snap-exact.duckdb', 'snapx', false, true);
    for (const v of ['1', '2']) {
      const s = await replicate(
        `stream-exact-v${v}.duckdb`,
        'strmx',
        `strmx_v${v}`,
        '--format-version',
        v,
        ...exact,
      );
      assert.equal(s.code, 0, s.stderr);
      await compare(`stream-exact-v${v}.duckdb`, 'strmx', true, true);
    }
    // The generated values made the stream widen columns (or the test would not test widening).
    t.diagnostic(
      `widenings streamed: ${(await widenings('stream-exact-v2.duckdb', 'strmx')).join(', ')}; snapshot chose: ${(await widenings('snap-exact.duckdb', 'snapx')).join(', ')}`,
    );
  });

  it('stops with one line naming table, column, key and LSN on a value DuckDB cannot hold, and stores nothing else', async () => {
    psql(c.info, 'CREATE TABLE far (id int PRIMARY KEY, ts timestamp, n numeric)');
    const first = await replicate('far.duckdb', 'far', 'far_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "INSERT INTO far VALUES (1, '2000-01-01', 1), (7, '294270-01-01 00:00:00', 2)");
    const r = await replicate('far.duckdb', 'far', 'far_slot');
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    // The value itself is row data: shown with --debug-values only (value-errors.test.ts).
    const line = lines.find((l) => l.includes('table public.far')) ?? '';
    assert.ok(!r.stderr.includes('294270'), r.stderr);
    assert.match(line, /table public\.far/);
    assert.match(line, /column ts/);
    assert.match(line, /key \(id\) = \("7"\)/);
    assert.match(line, /LSN [0-9A-F]+\/[0-9A-F]+/);
    // Nothing of that transaction was committed: the replica is still the empty table.
    const db = await DuckDBInstance.create(join(dir, 'far.duckdb'), { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    const n = (await conn.runAndReadAll('SELECT count(*) FROM far')).getRows()[0]?.[0];
    conn.closeSync();
    db.closeSync();
    assert.equal(n, 0n);
    // The snapshot path says the same for a numeric beyond DOUBLE.
    psql(c.info, `CREATE TABLE huge (id int PRIMARY KEY, n numeric); INSERT INTO huge VALUES (3, 1e400)`);
    const s = await replicate('huge.duckdb', 'huge', 'huge_slot');
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /table public\.huge, column n, key \(id\) = \("3"\), snapshot at LSN/);
  });
});
