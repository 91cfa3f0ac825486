// WatermarkMerge.restart (a re-copy decided during a copy: rows came or went without WAL): the copy
// starts over from the first key, its next first chunk empties the table again, a chunk in flight is
// dropped, and a rollback of the transaction that restarted it goes back to the committed progress.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type KeyValues, NOT_STARTED, WatermarkMerge } from '../../../src/sink/watermark-merge.js';

const compare = (a: KeyValues, b: KeyValues) => Number(a[0]) - Number(b[0]);
const merge = () => new WatermarkMerge(['k', 'v'], [0], compare);
const insert = (k: number) =>
  ({
    kind: 'insert',
    lsn: 1n,
    schema: 'public',
    table: 't',
    new: { names: ['k', 'v'], types: ['integer', 'text'], values: [String(k), 'x'] },
  }) as const;

/** One chunk through its watermarks; returns what the sink would write. */
function chunk(m: WatermarkMerge, id: string, rows: number[], full: boolean) {
  void m.expect(id);
  m.low(id);
  m.rows(
    id,
    rows.map((k) => [String(k), 'x']),
    full,
  );
  return m.high(id);
}

it('starts over from the first key and empties the table again at the next first chunk', () => {
  const m = merge();
  assert.equal(m.fresh, true);
  const first = chunk(m, 'a', [1, 2], true);
  assert.equal(first?.emptyFirst, true);
  m.commit();
  assert.equal(m.fresh, false);
  // Below the copied part a change is applied; after the restart nothing is copied: it is dropped.
  assert.equal(m.route(insert(0)).length, 1);
  m.restart();
  assert.equal(m.fresh, true);
  assert.deepEqual(m.progress, NOT_STARTED);
  assert.equal(m.route(insert(0)).length, 0);
  const again = chunk(m, 'b', [0, 1, 2], false);
  assert.equal(again?.emptyFirst, true);
  assert.equal(again?.rows.length, 3);
  assert.equal(again?.progress.done, true);
});

it('drops a chunk in flight and tells its copier to read it again', async () => {
  const m = merge();
  const written = m.expect('a');
  m.low('a');
  m.rows('a', [['1', 'x']], true);
  m.restart();
  assert.equal(await written, false);
  assert.equal(m.high('a'), undefined);
});

it('a rollback of the restarting transaction goes back to the committed progress', () => {
  const m = merge();
  chunk(m, 'a', [1, 2], true);
  m.commit();
  const committed = m.progress;
  m.restart();
  m.rollback();
  assert.deepEqual(m.progress, committed);
  assert.equal(m.fresh, false);
});
