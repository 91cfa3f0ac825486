// The row comparison at the leaves of --rows, and the hash sum's modular reading: pure functions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SourceTable } from '../../../src/source/catalog.js';
import { compareRows, mod64 } from '../../../src/verify/narrow.js';

const int = { typname: 'int4', typmod: -1, typtype: 'b' };
const txt = { typname: 'text', typmod: -1, typtype: 'b' };
const keyed: SourceTable = {
  schema: 'public',
  table: 't',
  identity: 'default',
  key: [0],
  columns: [
    { name: 'id', declared: 'integer', type: int, notNull: true },
    { name: 'v', declared: 'text', type: txt, notNull: false },
  ],
};
const keyless: SourceTable = { ...keyed, key: [], identity: 'full' };

// leafRows' shape: row text, key text, then each column's text.
const row = (id: string, v: string | null, key = `k${id}`) => [`r${id}:${v}`, key, id, v];

describe('compareRows', () => {
  it('names missing, extra and different rows by key, with both values', () => {
    const diffs = compareRows(
      keyed,
      [row('1', 'a'), row('2', 'b'), row('3', '')],
      [row('1', 'a'), row('3', null), row('4', 'd')],
    );
    assert.deepEqual(diffs, [
      { kind: 'missing', key: { id: '2' }, source: { id: '2', v: 'b' }, replica: null },
      { kind: 'different', key: { id: '3' }, source: { id: '3', v: '' }, replica: { id: '3', v: null } },
      { kind: 'extra', key: { id: '4' }, source: null, replica: { id: '4', v: 'd' } },
    ]);
  });

  it('treats a keyless table as a multiset: one duplicate more is one extra row', () => {
    const r = (v: string) => row('1', v, `k${v}`);
    const diffs = compareRows(keyless, [r('a'), r('a'), r('b')], [r('a'), r('a'), r('a'), r('b')]);
    assert.deepEqual(diffs, [{ kind: 'extra', key: null, source: null, replica: { id: '1', v: 'a' } }]);
  });

  it('finds nothing between equal multisets in any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.string()), { maxLength: 30 }),
        (xs) => {
          const rows = xs.map(([k, v]) => row(String(k), v));
          const shuffled = [...rows].reverse();
          assert.deepEqual(compareRows(keyless, rows, shuffled), []);
        },
      ),
      { seed: 18 },
    );
  });
});

describe('mod64', () => {
  it('reads a signed sum (PostgreSQL) and an unsigned one (DuckDB) of the same hashes alike', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 50 }), (hs) => {
        const unsigned = hs.reduce((a, h) => a + h, 0n);
        const signed = hs.reduce((a, h) => a + (h >= 1n << 63n ? h - (1n << 64n) : h), 0n);
        assert.equal(mod64(String(signed)), mod64(String(unsigned)));
      }),
      { seed: 18 },
    );
  });
});
