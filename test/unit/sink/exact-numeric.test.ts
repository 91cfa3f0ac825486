import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import {
  alterColumns,
  choose,
  convertSql,
  fits,
  measure,
  merge,
  NO_NEED,
  needOf,
  parseExactState,
  reachable,
} from '../../../src/sink/exact-numeric.js';
import { type ExactColumn, mapType } from '../../../src/sink/type-map.js';

const num = (precision?: number, scale = 0) => ({
  typname: 'numeric',
  typmod: precision === undefined ? -1 : (precision << 16) + (scale & 0x7ff) + 4,
  typtype: 'b',
});
const exactOf = (precision?: number, scale = 0): ExactColumn => {
  const e = mapType(num(precision, scale), { numeric: 'exact' }).exact;
  assert.ok(e);
  return e;
};

describe('--numeric exact: the DECIMAL a numeric column holds, and when it widens', () => {
  it('measures PostgreSQL numeric text: leading and trailing zeros do not count', () => {
    assert.deepEqual(needOf('0'), { int: 0, frac: 0, nonFinite: false });
    assert.deepEqual(needOf('-0.0500'), { int: 0, frac: 2, nonFinite: false });
    assert.deepEqual(needOf('123.000'), { int: 3, frac: 0, nonFinite: false });
    assert.deepEqual(needOf('-1000'), { int: 4, frac: 0, nonFinite: false });
    assert.equal(needOf('NaN').nonFinite, true);
    assert.equal(needOf('-Infinity').nonFinite, true);
  });

  it('starts where the declaration says, and unconstrained at DECIMAL(38,9)', () => {
    assert.equal(mapType(num(10, 2), { numeric: 'exact' }).duckType, 'DECIMAL(10,2)');
    assert.equal(mapType(num(), { numeric: 'exact' }).duckType, 'DECIMAL(38,9)');
    assert.equal(mapType(num(50, 4), { numeric: 'exact' }).duckType, 'DECIMAL(38,4)');
    assert.equal(mapType(num(60, 40), { numeric: 'exact' }).duckType, 'VARCHAR');
    assert.equal(mapType(num(20, -3), { numeric: 'exact' }).duckType, 'DECIMAL(38,0)');
    // The default mapping is unchanged.
    assert.equal(mapType(num()).duckType, 'DOUBLE');
    assert.equal(mapType(num(10, 2)).exact, undefined);
    // A list cannot widen value by value: unconstrained numeric[] keeps the text per element.
    const arr = { typname: '_numeric', typmod: -1, typtype: 'b', element: num(), dims: 1 };
    assert.equal(mapType(arr, { numeric: 'exact' }).duckType, 'VARCHAR[]');
    assert.equal(mapType({ ...arr, element: num(10, 2) }, { numeric: 'exact' }).duckType, 'DECIMAL(10,2)[]');
  });

  it('chooses the narrowest scale that holds every value, with room for 9 fraction digits when it can', () => {
    const u = exactOf();
    assert.deepEqual(choose(u, NO_NEED), { precision: 38, scale: 9 });
    assert.deepEqual(choose(u, needOf('0.123456789012')), { precision: 38, scale: 12 });
    assert.deepEqual(choose(u, needOf(`1${'0'.repeat(32)}`)), { precision: 38, scale: 5 });
    assert.deepEqual(choose(u, merge(needOf('1.5'), needOf(`1${'0'.repeat(36)}`))), {
      precision: 38,
      scale: 1,
    });
    assert.equal(choose(u, merge(needOf('0.5'), needOf(`1${'0'.repeat(37)}`))), 'text');
    assert.equal(choose(u, needOf('NaN')), 'text');
    // Declared scale: only the integer digits can outgrow it.
    const w = exactOf(50, 4);
    assert.deepEqual(choose(w, needOf(`1${'0'.repeat(33)}.5`)), { precision: 38, scale: 4 });
    assert.equal(choose(w, needOf(`1${'0'.repeat(34)}.5`)), 'text');
    // numeric(p <= 38, s) holds every finite value: only NaN/±Infinity make it text.
    const d = exactOf(8, 3);
    assert.deepEqual(choose(d, needOf('12345.678')), { precision: 8, scale: 3 });
    assert.equal(choose(d, needOf('Infinity')), 'text');
  });

  it('never chooses a state that does not fit what was measured (property)', () => {
    const text = fc
      .tuple(
        fc.boolean(),
        fc.stringMatching(/^[1-9][0-9]{0,45}$/),
        fc.stringMatching(/^[0-9]{0,45}$/),
        fc.constantFrom('', 'NaN', 'Infinity'),
      )
      .map(([neg, i, f, special]) => special || `${neg ? '-' : ''}${i}${f ? `.${f}` : ''}`);
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 6 }), (values) => {
        const need = values.map(needOf).reduce(merge, NO_NEED);
        const s = choose(exactOf(), need);
        assert.ok(fits(s, need), `${JSON.stringify(s)} holds ${JSON.stringify(need)}`);
        for (const v of values) assert.ok(fits(s, needOf(v)));
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });

  it('converts every value that fits a DECIMAL(38,s) state to exactly the plain cast (property)', async () => {
    // The short route through DECIMAL(18,s) once took 1234567890123.5 (15 characters, 13 integer
    // digits) into DECIMAL(18,9) and failed: found by the opt-in property run.
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      for (const scale of [0, 4, 9, 12, 18]) {
        const m = mapType(num(), { numeric: 'exact', exactState: { precision: 38, scale } });
        const text = fc
          .tuple(
            fc.boolean(),
            fc.stringMatching(new RegExp(`^[1-9][0-9]{0,${37 - scale}}$`)),
            fc.stringMatching(new RegExp(`^[0-9]{0,${scale}}$`)),
            fc.stringMatching(/^0{0,5}$/),
          )
          .map(([neg, i, f, zeros]) => `${neg ? '-' : ''}${i}${f || zeros ? `.${f}${zeros}` : ''}`)
          .filter((v) => fits({ precision: 38, scale }, needOf(v)));
        const values = [...fc.sample(text, { numRuns: 200, seed: 20261201 }), '1234567890123.5', '0.5', '-0'];
        const list = values.map((v) => `('${v}')`).join(', ');
        const rows = (
          await conn.runAndReadAll(
            `SELECT count(*) FILTER (WHERE ${m.convert('v')} IS DISTINCT FROM CAST(v AS DECIMAL(38,${scale}))) FROM (VALUES ${list}) t(v)`,
          )
        ).getRows();
        assert.equal(rows[0]?.[0], 0n, `DECIMAL(38,${scale})`);
      }
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });

  it('recognises the states a column may have reached, and nothing else', () => {
    assert.deepEqual(parseExactState('DECIMAL(38,12)'), { precision: 38, scale: 12 });
    assert.equal(parseExactState('VARCHAR'), 'text');
    assert.equal(parseExactState('DOUBLE'), undefined);
    assert.ok(reachable(exactOf(), { precision: 38, scale: 12 }));
    assert.ok(reachable(exactOf(10, 2), 'text'));
    assert.ok(!reachable(exactOf(10, 2), { precision: 38, scale: 2 }));
    assert.ok(!reachable(exactOf(50, 4), { precision: 38, scale: 5 }));
    assert.ok(!reachable(exactOf(), { precision: 18, scale: 2 }));
  });

  it('widens in place or by rebuilding, value for value, and measures what DuckDB holds', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const t = { name: 'memory.main.t', catalog: 'memory', schema: 'main', table: 't' };
      await conn.run('CREATE TABLE t (id INTEGER, n DECIMAL(38,9), d DECIMAL(8,3))');
      await conn.run("INSERT INTO t VALUES (1, '1.5', '-2.250'), (2, '-0.000000001', NULL), (3, NULL, '0')");
      assert.deepEqual(await measure(conn, t.name, 'n'), { int: 1, frac: 9, nonFinite: false });
      const u = exactOf();
      await conn.run('BEGIN');
      await conn.run('UPDATE t SET id = 4 WHERE id = 3');
      // Touched: DuckDB would refuse to commit an ALTER, so the table is rebuilt.
      await alterColumns(
        conn,
        t,
        ['id', 'n', 'd'],
        [
          { column: 'n', col: u, to: 'text' },
          { column: 'd', col: exactOf(8, 3), to: 'text' },
        ],
        true,
      );
      await conn.run('COMMIT');
      const rows = (await conn.runAndReadAll('SELECT id, n, d FROM t ORDER BY id')).getRows();
      // Unconstrained: PostgreSQL's value without DuckDB's padding; a declared scale keeps its digits.
      assert.deepEqual(rows, [
        [1, '1.5', '-2.250'],
        [2, '-0.000000001', null],
        [4, null, '0.000'],
      ]);
      assert.equal(convertSql(u, 'text', { precision: 38, scale: 2 }, 'x'), 'CAST(x AS DECIMAL(38,2))');
      await alterColumns(
        conn,
        t,
        ['id', 'n', 'd'],
        [{ column: 'n', col: u, to: { precision: 38, scale: 9 } }],
        false,
      );
      const back = (await conn.runAndReadAll('SELECT typeof(n), n::VARCHAR FROM t WHERE id = 2')).getRows();
      assert.deepEqual(back, [['DECIMAL(38,9)', '-0.000000001']]);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});
