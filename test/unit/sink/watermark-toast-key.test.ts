// An UPDATE that leaves a TOASTed key column unchanged: wal2json omits the key from the new row and
// logs it as the old key. Inside a copy window the merge read the new row's key as empty, took the
// UPDATE for a move of the row to another key, and the chunk was written without that row.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type KeyValues, WatermarkMerge } from '../../../src/sink/watermark-merge.js';

const compare = (a: KeyValues, b: KeyValues) => (a[0] ?? '').localeCompare(b[0] ?? '');

it('an UPDATE whose new row lacks its unchanged key keeps the row in the chunk, with the new value', () => {
  const m = new WatermarkMerge(['k', 'big', 'n'], [0], compare);
  void m.expect('w');
  m.low('w');
  m.rows(
    'w',
    [
      ['a', 'big a', '0'],
      ['b', 'big b', '0'],
    ],
    false,
  );
  const routed = m.route({
    kind: 'update',
    lsn: 1n,
    schema: 'public',
    table: 't',
    new: { names: ['n'], types: ['integer'], values: ['1'] },
    old: { names: ['k'], types: ['text'], values: ['a'] },
  });
  assert.deepEqual(routed, []);
  const write = m.high('w');
  assert.deepEqual(write?.rows.map((r) => [...r]).sort(), [
    ['a', 'big a', '1'],
    ['b', 'big b', '0'],
  ]);
  assert.equal(write?.progress.done, true);
});

it('after a first chunk, such an UPDATE above the copied part is no move below it (it stopped the run)', () => {
  const m = new WatermarkMerge(['k', 'big', 'n'], [0], compare);
  void m.expect('w1');
  m.low('w1');
  m.rows('w1', [['a', 'big a', '0']], true);
  assert.equal(m.high('w1')?.rows.length, 1);
  m.commit();
  void m.expect('w2');
  m.low('w2');
  m.rows('w2', [['b', 'big b', '0']], false);
  const update = {
    kind: 'update',
    lsn: 2n,
    schema: 'public',
    table: 't',
    new: { names: ['n'], types: ['integer'], values: ['5'] },
    old: { names: ['k'], types: ['text'], values: ['b'] },
  } as const;
  assert.deepEqual(m.route(update), []);
  assert.deepEqual(
    m.high('w2')?.rows.map((r) => [...r]),
    [['b', 'big b', '5']],
  );
});
