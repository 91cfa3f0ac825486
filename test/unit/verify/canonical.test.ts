// The canonical forms' choices per stored DuckDB type, and DuckDB's side of them run on an in-memory
// DuckDB against the text PostgreSQL prints for the same values (PostgreSQL's side is run by the
// integration test, against a real server).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { PgType, SourceColumn } from '../../../src/source/catalog.js';
import { columnCanon } from '../../../src/verify/canonical.js';

const numeric = (p?: number, s?: number): PgType => ({
  typname: 'numeric',
  typmod: p === undefined ? -1 : ((p << 16) | (s ?? 0)) + 4,
  typtype: 'b',
});
const col = (type: PgType, dims?: number): SourceColumn => ({
  name: 'c',
  declared: 'x',
  type: dims ? { typname: `_${type.typname}`, typmod: -1, typtype: 'b', element: type, dims } : type,
  notNull: false,
});

describe('canonical forms', () => {
  let db: DuckDBInstance;
  let conn: DuckDBConnection;
  before(async () => {
    db = await DuckDBInstance.create(':memory:');
    conn = await db.connect();
    await conn.run("SET TimeZone = 'UTC'");
  });
  after(() => {
    conn.closeSync();
    db.closeSync();
  });
  const duck = async (sql: string) =>
    (await conn.runAndReadAll(`SELECT ${sql}`)).getRows()[0]?.map((v) => (v === null ? null : String(v)));

  it('numeric: chosen by the replica column type, a tolerance only for DOUBLE', () => {
    const forms = (c: SourceColumn, stored?: string) => {
      const k = columnCanon(c, stored);
      return [k.form, k.tolerance !== undefined];
    };
    assert.deepEqual(forms(col(numeric())), ['numeric as double', true]);
    assert.deepEqual(forms(col(numeric()), 'DOUBLE'), ['numeric as double', true]);
    assert.deepEqual(forms(col(numeric()), 'DECIMAL(38,4)'), ['numeric trimmed', false]);
    assert.deepEqual(forms(col(numeric()), 'VARCHAR'), ['numeric trimmed', false]);
    assert.deepEqual(forms(col(numeric(10, 2))), ['numeric fixed', false]);
    assert.deepEqual(forms(col(numeric(10, 2)), 'VARCHAR'), ['numeric fixed, as text', false]);
    assert.deepEqual(forms(col(numeric(10, 2)), 'DECIMAL(38,4)'), ['numeric trimmed', false]);
    assert.deepEqual(forms(col(numeric(), 1), 'DECIMAL(38,4)[]'), ['1[numeric trimmed', false]);
    assert.deepEqual(forms(col(numeric(), 2)), ['2[numeric as double', true]);
  });

  it('numeric in DECIMAL or VARCHAR reads as PostgreSQL trim_scale() prints it', async () => {
    const trimmed = columnCanon(col(numeric()), 'DECIMAL(38,4)').duck;
    // trim_scale() at the source: 1.5, 100, 0, -0.01, NaN.
    assert.deepEqual(
      await duck(
        [
          'CAST(1.5 AS DECIMAL(38,4))',
          'CAST(100 AS DECIMAL(38,4))',
          'CAST(0 AS DECIMAL(38,4))',
          "CAST('-0.01' AS DECIMAL(38,4))",
          'CAST(100 AS DECIMAL(10,0))',
        ]
          .map(trimmed)
          .join(', '),
      ),
      ['1.5', '100', '0', '-0.01', '100'],
    );
    // VARCHAR is trimmed as text: '-0.000', which PostgreSQL never prints (it has no -0), stays unequal to '0'.
    assert.deepEqual(await duck(["'1.500'", "'100'", "'NaN'", "'-0.000'"].map(trimmed).join(', ')), [
      '1.5',
      '100',
      'NaN',
      '-0',
    ]);
  });

  it('numeric(p,p), all fraction: DuckDB prints DECIMAL(p,p) without the 0 PostgreSQL writes before the point', async () => {
    // PostgreSQL: 0.500, -0.001, 0.000 (numeric(3,3)); its trim_scale(): 0.5, -0.001, 0.
    const fixed = columnCanon(col(numeric(3, 3))).duck;
    assert.deepEqual(
      await duck(
        ["CAST('0.5' AS DECIMAL(3,3))", "CAST('-0.001' AS DECIMAL(3,3))", 'CAST(0 AS DECIMAL(3,3))']
          .map(fixed)
          .join(', '),
      ),
      ['0.500', '-0.001', '0.000'],
    );
    const trimmed = columnCanon(col(numeric()), 'DECIMAL(38,38)').duck;
    assert.deepEqual(
      await duck(
        ["CAST('0.5' AS DECIMAL(38,38))", "CAST('-0.001' AS DECIMAL(38,38))", 'CAST(0 AS DECIMAL(38,38))']
          .map(trimmed)
          .join(', '),
      ),
      ['0.5', '-0.001', '0'],
    );
  });

  it('BC dates and timestamps end in " BC", after the time and offset, as PostgreSQL writes them', async () => {
    const at = (typname: string) => columnCanon(col({ typname, typmod: -1, typtype: 'b' })).duck;
    assert.deepEqual(
      await duck(
        [
          at('date')("DATE '-0043-03-15'"),
          at('timestamp')("TIMESTAMP '-0043-03-15 12:00:01.5'"),
          at('timestamptz')("TIMESTAMPTZ '-0043-03-15 11:00:01.5+00'"),
          at('timestamptz')("TIMESTAMPTZ 'infinity'"),
          at('date')("DATE '2024-02-29'"),
        ].join(', '),
      ),
      ['0044-03-15 BC', '0044-03-15 12:00:01.5 BC', '0044-03-15 11:00:01.5+00 BC', 'infinity', '2024-02-29'],
    );
  });

  it('timetz with an offset under a minute reads as PostgreSQL prints it (DuckDB prints its seconds as minutes)', async () => {
    const tz = columnCanon(col({ typname: 'timetz', typmod: -1, typtype: 'b' })).duck;
    assert.deepEqual(
      await duck(
        [
          "TIMETZ '00:00:00-00:00:01'",
          "TIMETZ '24:00:00+00:00:59'",
          "TIMETZ '12:00:00-00:01'",
          "TIMETZ '12:00:00.5+05:45:30'",
          "TIMETZ '12:00:00+00'",
        ]
          .map(tz)
          .join(', '),
      ),
      ['00:00:00-00:00:01', '24:00:00+00:00:59', '12:00:00-00:01', '12:00:00.5+05:45:30', '12:00:00+00'],
    );
  });

  it('arrays of a composite type are read as text[] at the source (unnest would expand the fields)', () => {
    const pair: PgType = { typname: 'pair', typmod: -1, typtype: 'c' };
    assert.match(columnCanon(col(pair, 1)).pg('x'), /unnest\(CAST\(x AS TEXT\[\]\)\)/);
    assert.match(columnCanon(col({ typname: 'int4', typmod: -1, typtype: 'b' }, 1)).pg('x'), /unnest\(x\)/);
  });
});
