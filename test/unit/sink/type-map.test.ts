import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { mapType, numericPrecision } from '../../../src/sink/type-map.js';

const t = (typname: string, typmod = -1) => ({ typname, typmod, typtype: 'b' });

describe('type map', () => {
  it('unpacks numeric typmods, negative scales included', () => {
    // numeric(10,2) -> ((10 << 16) | 2) + 4
    assert.deepEqual(numericPrecision((10 << 16) + 2 + 4), { precision: 10, scale: 2 });
    assert.deepEqual(numericPrecision((5 << 16) + 0x7fd + 4), { precision: 5, scale: -3 });
    assert.equal(numericPrecision(-1), undefined);
  });
  it('maps as DuckDB’s postgres extension does', () => {
    assert.equal(mapType(t('numeric', (38 << 16) + 10 + 4)).duckType, 'DECIMAL(38,10)');
    assert.equal(mapType(t('numeric', (39 << 16) + 4)).duckType, 'DOUBLE');
    assert.equal(mapType(t('numeric')).duckType, 'DOUBLE');
    assert.equal(mapType(t('jsonb')).duckType, 'JSON');
    assert.equal(mapType(t('bytea')).duckType, 'BLOB');
    assert.equal(mapType(t('timestamptz')).duckType, 'TIMESTAMPTZ');
    assert.equal(mapType(t('inet')).duckType, 'VARCHAR');
    assert.equal(mapType({ ...t('_int4'), element: t('int4'), dims: 2 }).duckType, 'INTEGER[][]');
    assert.equal(mapType({ ...t('_bytea'), element: t('bytea'), dims: 1 }).duckType, 'VARCHAR[]');
    const wide = t('numeric', (20 << 16) + 2 + 4);
    assert.equal(mapType({ ...t('_numeric'), element: wide, dims: 1 }).duckType, 'DECIMAL(20,2)[]');
    assert.equal(mapType({ ...t('_money'), element: t('money'), dims: 1 }).duckType, 'VARCHAR[]');
  });
  it('converts arrays through JSON so DuckDB can read them', () => {
    const m = mapType({ ...t('_int8'), element: t('int8'), dims: 1 });
    assert.equal(m.pre?.('{1,NULL}'), '["1",null]');
    assert.equal(m.convert('x'), `CAST(from_json(x, '["VARCHAR"]') AS BIGINT[])`);
  });
  it('converts wide DECIMALs through DECIMAL(18,s) when short, to exactly the plain cast', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      for (const [precision, scale] of [
        [20, 4],
        [38, 0],
        [38, 18],
        [25, 10],
      ] as const) {
        const m = mapType(t('numeric', (precision << 16) + scale + 4));
        assert.equal(m.direct, undefined, 'the Appender would take the slow cast itself');
        // Text as PostgreSQL prints numeric(p,s): optional sign, 1..p-s integer digits, exactly s decimals.
        const text = fc
          .tuple(
            fc.boolean(),
            fc.stringMatching(new RegExp(`^[1-9][0-9]{0,${Math.max(0, precision - scale - 1)}}$`)),
            fc.stringMatching(new RegExp(`^[0-9]{${scale}}$`)),
            fc.boolean(),
          )
          .map(
            ([neg, int, frac, zero]) => `${neg ? '-' : ''}${zero ? '0' : int}${scale > 0 ? `.${frac}` : ''}`,
          );
        const values = fc.sample(text, 300);
        const list = values.map((v) => `('${v}')`).join(', ');
        const rows = (
          await conn.runAndReadAll(
            `SELECT v, (${m.convert('v')})::VARCHAR, CAST(v AS ${m.duckType})::VARCHAR FROM (VALUES ${list}) t(v)`,
          )
        ).getRows();
        for (const [v, fast, plain] of rows) assert.equal(fast, plain, `${v} as ${m.duckType}`);
      }
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
  it('the CSV path (SQL alone) stores what the streamed path (JS rewrite, then CAST) stores', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const cases: Array<[string, string[]]> = [
        [
          'date',
          [
            '0044-03-15 BC',
            '0001-01-01 BC',
            '4713-11-24 BC',
            '2024-02-29',
            'infinity',
            '-infinity',
            '5874897-12-31',
          ],
        ],
        [
          'timestamp',
          [
            '0044-03-15 01:02:03.000004 BC',
            '0001-12-31 23:59:59.999999 BC',
            '2000-01-01 00:00:00',
            'infinity',
          ],
        ],
        [
          'timestamptz',
          ['0044-03-15 01:02:03+00 BC', '1850-01-01 00:00:00-03:30:52', '2000-01-01 00:00:00.5+00'],
        ],
        ['numeric', ['0.1', `1${'0'.repeat(300)}`, 'NaN', '-Infinity', '0']],
      ];
      for (const [type, values] of cases) {
        const m = mapType(t(type));
        assert.ok(m.csv, type);
        const list = values.map((v) => `('${v}')`).join(', ');
        const rows = (
          await conn.runAndReadAll(`SELECT v, (${m.csv('v')})::VARCHAR FROM (VALUES ${list}) t(v)`)
        ).getRows();
        for (const [v, viaSql] of rows) {
          const streamed = (
            await conn.runAndReadAll(`SELECT (${m.convert(`'${m.pre?.(String(v)) ?? v}'`)})::VARCHAR`)
          ).getRows()[0]?.[0];
          assert.equal(viaSql, streamed, `${type} ${v}`);
        }
      }
      // Where the JS refuses, the SQL fails too (never another value).
      for (const [type, v] of [
        ['timestamp', '294247-01-10 04:00:54.775807'],
        ['numeric', `1${'0'.repeat(400)}`],
        ['numeric', `0.${'0'.repeat(400)}1`],
      ] as const) {
        const m = mapType(t(type));
        assert.throws(() => m.pre?.(v));
        await assert.rejects(conn.runAndReadAll(`SELECT ${m.csv?.(`'${v}'`)}`), `${type} ${v}`);
      }
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});
