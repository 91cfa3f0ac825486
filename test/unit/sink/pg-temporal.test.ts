// PostgreSQL's date/time text -> text DuckDB's cast reads as the same value. Each case is checked in
// DuckDB itself (its epoch and field functions), against numbers worked out by hand from the calendar.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import {
  meaningfulDigits,
  parseInterval,
  pgDate,
  pgInterval,
  pgNumericAsDouble,
  pgNumericKeyAsDouble,
  pgTimestamp,
  ValueError,
} from '../../../src/sink/pg-temporal.js';
import { quoteLiteral } from '../../../src/sink/sql.js';
import { mapType } from '../../../src/sink/type-map.js';

describe('pg-temporal', () => {
  let db: DuckDBInstance;
  let conn: DuckDBConnection;
  before(async () => {
    db = await DuckDBInstance.create(':memory:');
    conn = await db.connect();
  });
  after(() => {
    conn.closeSync();
    db.closeSync();
  });
  const one = async (sql: string) => (await conn.runAndReadAll(sql)).getRows()[0]?.[0];

  it('dates: BC is astronomical year 1 - Y (DuckDB ignored " BC" before)', async () => {
    assert.equal(pgDate('0044-03-15 BC'), '-0043-03-15');
    assert.equal(pgDate('0001-01-01 BC'), '-0000-01-01');
    // 1 BC-01-01 is 366 + 365 * 1969 + 477 leap days (1972..2000 ... counted by DuckDB) before 1970:
    // check against AD 1 minus one leap year of 366 days instead.
    const ad1 = Number(
      await one(`SELECT CAST(${quoteLiteral(pgDate('0001-01-01'))} AS DATE) - DATE '1970-01-01'`),
    );
    const bc1 = Number(
      await one(`SELECT CAST(${quoteLiteral(pgDate('0001-01-01 BC'))} AS DATE) - DATE '1970-01-01'`),
    );
    assert.equal(ad1 - bc1, 366, '1 BC is a leap year (proleptic Gregorian)');
    assert.equal(
      await one(`SELECT CAST(${quoteLiteral(pgDate('4713-11-24 BC'))} AS DATE)::VARCHAR`),
      '4713-11-24 (BC)',
    );
    assert.equal(pgDate('infinity'), 'infinity');
    assert.equal(pgDate('5874897-12-31'), '5874897-12-31');
    assert.throws(() => pgDate('03/15/0044 BC'), ValueError);
  });

  it('timestamps: BC rewritten, offsets kept, beyond DuckDB refused', async () => {
    assert.equal(pgTimestamp('0044-03-15 01:02:03.000004 BC'), '-0043-03-15 01:02:03.000004');
    assert.equal(pgTimestamp('0044-03-15 01:02:03+05:53:28 BC'), '-0043-03-15 01:02:03+05:53:28');
    assert.equal(
      await one(`SELECT epoch_us(CAST(${quoteLiteral(pgTimestamp('0001-01-01 00:00:00 BC'))} AS TIMESTAMP))`),
      -(719162n + 366n) * 86400000000n, // AD 1 is 719162 days before 1970; 1 BC (year 0) is a leap year
    );
    assert.equal(
      await one(
        `SELECT epoch_us(CAST(${quoteLiteral(pgTimestamp('2000-01-01 00:00:00+05:53:28'))} AS TIMESTAMPTZ))`,
      ),
      946684800000000n - (5n * 3600n + 53n * 60n + 28n) * 1000000n,
    );
    assert.equal(pgTimestamp('294247-01-10 04:00:54.775806'), '294247-01-10 04:00:54.775806');
    assert.throws(() => pgTimestamp('294247-01-10 04:00:54.775807'), ValueError);
    assert.throws(() => pgTimestamp('294276-12-31 23:59:59.999999+00'), ValueError);
    // An offset west of UTC moves the instant later: past the end.
    assert.throws(() => pgTimestamp('294247-01-10 04:00:54.775806-00:00:01'), ValueError);
    assert.equal(pgTimestamp('294247-01-10 04:00:55+00:00:01'), '294247-01-10 04:00:55+00:00:01');
    assert.equal(pgTimestamp('-infinity'), '-infinity');
  });

  it('timestamps: the plain-form shortcut takes exactly what the full grammar returns unchanged', () => {
    // PostgreSQL's DateStyle ISO grammar, written out here: every text pgTimestamp returns as it is
    // must match it with no BC; every other text (not infinity) must be rewritten (BC) or refused.
    const grammar =
      /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/;
    const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
    const plain = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two,
        two,
        two,
        two,
        two,
        fc.option(fc.stringMatching(/^\.\d{0,8}$/), { nil: '' }),
        fc.option(fc.stringMatching(/^[+-]\d\d(:\d\d){0,3}$/), { nil: '' }),
        fc.constantFrom('', '', '', ' BC', 'x', ' '),
      )
      .map(([y, mo, d, h, mi, se, f, off, tail]) => `${y}-${mo}-${d} ${h}:${mi}:${se}${f}${off}${tail}`);
    // Near misses: one character dropped, doubled or replaced.
    const mutated = fc
      .tuple(
        plain,
        fc.nat(),
        fc.constantFrom('drop', 'double', 'replace'),
        fc.constantFrom(...'0129-:. +BCx'),
      )
      .map(([t, at, how, c]) => {
        const i = at % t.length;
        if (how === 'drop') return t.slice(0, i) + t.slice(i + 1);
        if (how === 'double') return t.slice(0, i + 1) + t.slice(i);
        return t.slice(0, i) + c + t.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(plain, mutated), (t) => {
        const m = grammar.exec(t);
        let out: string | undefined;
        try {
          out = pgTimestamp(t);
        } catch (err) {
          assert.ok(err instanceof ValueError);
          // Refused: not the grammar, or beyond DuckDB's range (a year of 6 digits or more).
          assert.ok(!m || (m[1] ?? '').length >= 6, `refused ${t}`);
          return;
        }
        assert.ok(m, `took ${t}`);
        assert.equal(out, m[12] ? out : t);
        if (m[12]) assert.ok(!out.endsWith(' BC'), `rewrote ${t}`);
      }),
      { seed: 19, numRuns: 20000 },
    );
  });

  it('intervals: every sign mix, field by field (DuckDB refused "-1 days +02:03:04" before)', async () => {
    const cases: Array<[string, [number, number, bigint]]> = [
      ['-1 days +02:03:04.000005', [0, -1, 7384000005n]],
      ['1 year 2 mons -3 days -04:05:06.789', [14, -3, -14706789000n]],
      ['-1 years -2 mons +3 days', [-14, 3, 0n]],
      ['00:00:00', [0, 0, 0n]],
      [
        '-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808',
        [-2147483648, -2147483648, -9223372036854775808n],
      ],
      [
        '178956970 years 7 mons 2147483647 days 2562047788:00:54.775807',
        [2147483647, 2147483647, 9223372036854775807n],
      ],
      ['P1Y2M-3DT-4H5M-6.5S', [14, -3, -14400000000n + 300000000n - 6500000n]],
      ['PT0S', [0, 0, 0n]],
    ];
    for (const [text, [months, days, micros]] of cases) {
      assert.deepEqual(parseInterval(text), { months, days, micros }, text);
      const r = (
        await conn.runAndReadAll(`SELECT CAST(${quoteLiteral(pgInterval(text))} AS INTERVAL)`)
      ).getRowsJS()[0]?.[0];
      assert.deepEqual(r, { months, days, micros }, text);
    }
    // A list that identifies rows (REPLICA IDENTITY FULL, or a numeric[] key): each element is a key value.
    const numeric = { typname: 'numeric', typmod: -1, typtype: 'b' };
    const list = { typname: '_numeric', typmod: -1, typtype: 'b', element: numeric, dims: 1 };
    assert.throws(() => mapType(list, { key: true }).pre?.('{1.5,1.00000000000000001}'), ValueError);
    assert.doesNotThrow(() => mapType(list, { key: true }).pre?.('{1.5,2,NULL}'));
    assert.doesNotThrow(() => mapType(list).pre?.('{1.5,1.00000000000000001}'));
    for (const bad of ['@ 1 day ago', '1 fortnight', '+1-2 +3 +4:05:06', '1 day 2'])
      assert.throws(() => parseInterval(bad), ValueError, bad);
  });

  it('numeric as DOUBLE: beyond the range or rounding to 0 is refused, not stored as ±Infinity or 0', () => {
    assert.equal(pgNumericAsDouble('0.1'), '0.1');
    assert.equal(pgNumericAsDouble('NaN'), 'NaN');
    assert.equal(pgNumericAsDouble('0.000'), '0.000');
    assert.equal(pgNumericAsDouble(`0.${'0'.repeat(320)}1`), `0.${'0'.repeat(320)}1`);
    assert.throws(() => pgNumericAsDouble(`1${'0'.repeat(309)}`), ValueError);
    assert.throws(() => pgNumericAsDouble(`-0.${'0'.repeat(330)}1`), ValueError);
  });

  it('numeric key as DOUBLE: more than 15 significant digits, or below the normal range, is refused', () => {
    for (const [text, digits] of [
      ['0', 0],
      ['-0.000', 0],
      ['1.50', 2],
      ['-0.000123', 3],
      ['100', 1],
      ['123456789012345', 15],
      ['1.00000000000000001', 18],
      ['1234567890123456', 16],
    ] as const)
      assert.equal(meaningfulDigits(text), digits, text);
    for (const ok of ['0', '1.50', '-0.000123', '123456789012345', '99999999999999.9', 'NaN', '1e-300'])
      assert.equal(pgNumericKeyAsDouble(ok), ok);
    // The sweep's pair: two keys that became one DOUBLE row, so a DELETE of one removed both.
    for (const bad of [
      '1.00000000000000001',
      '1.00000000000000002',
      '1234567890123456',
      `0.${'0'.repeat(309)}1`,
    ])
      assert.throws(() => pgNumericKeyAsDouble(bad), ValueError, bad);
  });

  it('numeric keys of at most 15 significant digits are distinct DOUBLEs, and the CSV check refuses what the stream does', async () => {
    const decimal = fc
      .tuple(fc.bigInt({ min: -(10n ** 15n) + 1n, max: 10n ** 15n - 1n }), fc.integer({ min: 0, max: 40 }))
      .map(([m, scale]) => {
        const abs = (m < 0n ? -m : m).toString().padStart(scale + 1, '0');
        const text = scale === 0 ? abs : `${abs.slice(0, -scale)}.${abs.slice(-scale)}`;
        return { text: `${m < 0n ? '-' : ''}${text}`, m, scale };
      });
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        assert.equal(pgNumericKeyAsDouble(a.text), a.text);
        // Equal values (1.50 and 1.5) may share a DOUBLE; different ones never do.
        const same = a.m * 10n ** BigInt(b.scale) === b.m * 10n ** BigInt(a.scale);
        assert.equal(Number(a.text) === Number(b.text), same, `${a.text} ${b.text}`);
      }),
      { seed: 19, numRuns: 2000 },
    );
    const csv = mapType({ typname: 'numeric', typmod: -1, typtype: 'b' }, { key: true }).csv;
    assert.ok(csv);
    const cases = [
      '1.50',
      '123456789012345',
      '1.00000000000000001',
      '-1234567890123456',
      `0.${'0'.repeat(309)}1`,
      '7',
    ];
    for (const text of cases) {
      let refused = false;
      try {
        await conn.run(`SELECT ${csv(quoteLiteral(text))}`);
      } catch {
        refused = true;
      }
      let thrown = false;
      try {
        pgNumericKeyAsDouble(text);
      } catch {
        thrown = true;
      }
      assert.equal(refused, thrown, text);
    }
  });
});
