// Numbers round-trip textually: whatever JSON number wal2json prints comes out as the same text, in
// both formats, however long (int8 extremes, 40+ digit numerics, subnormal exponents).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Insert } from '../../../src/wal2json/change.js';
import { decodeAll } from '../../unit/wal2json/helpers.js';
import { jsonNumber } from './arbitraries.js';

const runs = Number(process.env.WALDUCK_FUZZ_RUNS ?? 100);

describe('numbers keep their source text', () => {
  it('in v2 columns and v1 columnvalues', () => {
    fc.assert(
      fc.property(fc.array(jsonNumber, { minLength: 1, maxLength: 8 }), (nums) => {
        const cols = nums.map((n, i) => `{"name":"c${i}","type":"numeric","value":${n}}`).join(',');
        const v2 = decodeAll(2, [`{"action":"I","schema":"s","table":"t","columns":[${cols}]}`]);
        assert.deepEqual((v2[0] as Insert).new.values, nums);
        const doc =
          `{"xid":1,"change":[{"kind":"insert","schema":"s","table":"t","columnnames":[${nums.map((_, i) => `"c${i}"`).join(',')}],` +
          `"columnvalues":[${nums.join(',')}]}]}`;
        const v1 = decodeAll(1, [doc]);
        assert.deepEqual((v1[1] as Insert).new.values, nums);
      }),
      { numRuns: runs },
    );
  });

  it('where JSON.parse would not', () => {
    const text = [
      '9223372036854775807',
      '-9223372036854775808',
      '0.1000000000000000055511151231257827021181583404541015625',
    ];
    const cols = text.map((n, i) => `{"name":"c${i}","type":"numeric","value":${n}}`).join(',');
    const out = decodeAll(2, [`{"action":"I","schema":"s","table":"t","columns":[${cols}]}`]);
    assert.deepEqual((out[0] as Insert).new.values, text);
    assert.notEqual(String(JSON.parse(text[0]!)), text[0], 'the reference really is lossy');
  });
});
