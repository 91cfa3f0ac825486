// The open batch's source transactions, kept by the sink: none dropped, the newest found first, the
// batch full (to be committed) at MAX_BATCH_XIDS rather than forgetting any.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchXids, MAX_BATCH_XIDS } from '../../../src/sink/batch-xids.js';

describe('BatchXids', () => {
  it('keeps every transaction, past its first buffer, until cleared', () => {
    const b = new BatchXids();
    for (let x = 1; x <= 5000; x++) b.push(x);
    b.push(4294967295);
    assert.equal(b.size, 5001);
    assert.equal(b.has(1), true, 'the oldest too');
    assert.equal(b.has(4294967295), true, '32-bit xids whole');
    assert.equal(b.has(5001), false);
    assert.deepEqual([...b.xids].slice(0, 3), [1, 2, 3]);
    assert.equal(b.full, false);
    b.clear();
    assert.equal(b.size, 0);
    assert.equal(b.has(1), false);
    assert.deepEqual([...b.xids], []);
  });

  it('is full at MAX_BATCH_XIDS: the sink then commits instead of dropping any', () => {
    const b = new BatchXids();
    for (let x = 0; x < MAX_BATCH_XIDS - 1; x++) b.push(x);
    assert.equal(b.full, false);
    b.push(MAX_BATCH_XIDS);
    assert.equal(b.full, true);
    assert.equal(b.has(0), true);
  });
});
