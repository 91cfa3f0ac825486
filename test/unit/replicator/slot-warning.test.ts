// When a slot is in danger, and that each change for the worse is said once, the all-clear once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SlotHealth } from '../../../src/replicator/metrics.js';
import { danger, LOW_FLOOR, lowThreshold, SlotWarnings } from '../../../src/replicator/slot-warning.js';

const MB = 1n << 20n;
const GB = 1n << 30n;
const slot = (walStatus: string, safeWalSize?: bigint, retainedBytes?: bigint): SlotHealth => ({
  walStatus,
  safeWalSize,
  retainedBytes,
});

describe('slot danger thresholds', () => {
  it('is a fifth of max_slot_wal_keep_size, or 1 GB when that is at most half of it', () => {
    assert.equal(lowThreshold(100n * GB), 20n * GB);
    assert.equal(lowThreshold(5n * GB), LOW_FLOOR); // a fifth is exactly the floor
    assert.equal(lowThreshold(4n * GB), LOW_FLOOR); // the floor: 1 GB left of 4 is worth a word
    assert.equal(lowThreshold(2n * GB), LOW_FLOOR); // exactly half
    assert.equal(lowThreshold(160n * MB), 80n * MB); // a small budget: half, not always
    assert.equal(lowThreshold(undefined), undefined);
    assert.equal(lowThreshold(-1n * MB), undefined, 'max_slot_wal_keep_size = -1: no limit');
    assert.equal(lowThreshold(0n), undefined);
  });

  it('ranks wal_status and counts the halvings of safe_wal_size below the threshold', () => {
    const keep = 10n * GB; // threshold 2 GB
    assert.deepEqual(danger(slot('reserved', 3n * GB), keep), { statusRank: 0, lowStep: -1 });
    assert.deepEqual(danger(slot('reserved', 2n * GB), keep), { statusRank: 0, lowStep: -1 });
    assert.deepEqual(danger(slot('reserved', 2n * GB - 1n), keep), { statusRank: 0, lowStep: 0 });
    assert.deepEqual(danger(slot('extended', GB - 1n), keep), { statusRank: 1, lowStep: 1 });
    assert.deepEqual(danger(slot('extended', GB / 2n - 1n), keep), { statusRank: 1, lowStep: 2 });
    assert.deepEqual(danger(slot('unreserved', -5n * MB), keep), { statusRank: 2, lowStep: 63 });
    assert.deepEqual(danger(slot('lost', undefined), keep), { statusRank: 3, lowStep: -1 });
    // No limit: safe_wal_size is NULL, only wal_status tells.
    assert.deepEqual(danger(slot('extended', undefined), undefined), { statusRank: 1, lowStep: -1 });
    assert.deepEqual(danger(slot('reserved', undefined), undefined), { statusRank: 0, lowStep: -1 });
  });
});

describe('SlotWarnings', () => {
  it('warns once per change for the worse, stays quiet while it lasts, and clears once', () => {
    const w = new SlotWarnings('s');
    const keep = 160n * MB; // threshold 80 MB
    const said: string[] = [];
    const look = (h: SlotHealth) => {
      const v = w.observe(h, keep);
      if (v.warning) said.push(`warn: ${v.warning}`);
      if (v.cleared) said.push(`clear: ${v.cleared}`);
      return v.summary;
    };
    assert.equal(look(slot('reserved', 150n * MB, 10n * MB)), undefined);
    assert.equal(look(slot('reserved', 150n * MB, 10n * MB)), undefined);
    assert.equal(said.length, 0, 'nothing to say while all is well');

    const summary = look(slot('extended', 100n * MB, 60n * MB));
    assert.equal(summary, 'slot extended, safe_wal_size 100.0 MB of 160.0 MB');
    look(slot('extended', 95n * MB, 65n * MB)); // same state: the progress line shows it, the log not
    assert.equal(said.length, 1);
    assert.match(said[0] ?? '', /^warn: replication slot s is in danger: wal_status extended, .*invalidate/);

    look(slot('extended', 70n * MB, 90n * MB)); // low now too: worse
    look(slot('extended', 30n * MB, 130n * MB)); // a halving further: worse again
    look(slot('extended', 50n * MB, 110n * MB)); // better, still in danger: quiet
    look(slot('extended', 30n * MB, 130n * MB)); // back down to what was said: quiet
    assert.equal(said.length, 3, said.join('\n'));

    assert.equal(look(slot('reserved', 150n * MB, 10n * MB)), undefined);
    assert.equal(said.length, 4);
    assert.match(said[3] ?? '', /^clear: replication slot s is out of danger again: wal_status reserved/);
    assert.equal(look(slot('reserved', 150n * MB, 10n * MB)), undefined);
    assert.equal(said.length, 4, 'the all-clear is said once');

    // A new episode is warned about afresh.
    look(slot('unreserved', -1n * MB, 170n * MB));
    assert.equal(said.length, 5);
    assert.match(said[4] ?? '', /wal_status unreserved, safe_wal_size -1\.0 MB/);
  });

  it('a lost slot says the replica must be rebuilt', () => {
    const v = new SlotWarnings('gone').observe(slot('lost', undefined), 160n * MB);
    assert.match(v.warning ?? '', /wal_status lost.*must be rebuilt/);
    assert.equal(v.summary, 'slot lost');
  });
});
