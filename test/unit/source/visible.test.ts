// Before a DuckDB commit, the catalog is read only once every streamed transaction of the batch is
// visible to it: `invisible` reads pg_current_snapshot() (64-bit xids) against wal2json's 32-bit xids.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { invisible } from '../../../src/source/rename-catalog.js';

const EPOCH = 2n ** 32n;

describe('invisible', () => {
  it('a streamed (committed) xid is visible below xmax unless listed as running', () => {
    assert.equal(invisible([700, 705], '700:710:'), undefined);
    assert.equal(invisible([700, 705], '700:710:705'), 705);
    assert.equal(invisible([700, 710], '700:710:'), 710);
    assert.equal(invisible([699], '700:710:703,705'), undefined);
    assert.equal(invisible([], '700:710:703'), undefined);
  });

  it('compares modulo 2^32 across an epoch (xid wraparound)', () => {
    // xmax just past the wrap: 4294967290 (epoch 0) precedes it, 5 (epoch 1) does not.
    const xmax = `${EPOCH + 3n}`;
    assert.equal(invisible([4294967290], `${EPOCH - 10n}:${xmax}:`), undefined);
    assert.equal(invisible([5], `${EPOCH - 10n}:${xmax}:`), 5);
    assert.equal(invisible([1], `${EPOCH - 10n}:${xmax}:${EPOCH + 1n}`), 1);
  });

  it('agrees with 64-bit comparison for xids within 2^31 of xmax', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n ** 31n, max: 2n ** 40n }),
        fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 5 }),
        (xmax, offset, running) => {
          const xid64 = xmax + BigInt(offset);
          const xip = running.map((r) => xmax + BigInt(r)).filter((x) => x < xmax);
          const snapshot = `${xmax - 100n}:${xmax}:${xip.join(',')}`;
          const xid = Number(xid64 & 0xffffffffn);
          const visible = xid64 < xmax && !xip.includes(xid64);
          assert.equal(invisible([xid], snapshot), visible ? undefined : xid);
        },
      ),
      { seed: 19, numRuns: 2000 },
    );
  });

  it('refuses a snapshot it cannot read', () => {
    assert.throws(() => invisible([1], 'garbage'), /unexpected snapshot/);
  });
});
