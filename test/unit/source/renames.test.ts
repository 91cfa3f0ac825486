// The catalog's renames wait until the stream has passed the WAL position they were seen at: before
// it, a change under the old name may still come.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingRenames } from '../../../src/source/renames.js';

const a = { schema: 'public', table: 'a' };
const b = { schema: 'public', table: 'b' };
const c = { schema: 'other', table: 'c' };

describe('PendingRenames', () => {
  it('is due only once the stream passed the position the catalog was read at', () => {
    const p = new PendingRenames();
    assert.equal(p.saw('16384', a, b, '0/3000'), true);
    assert.equal(p.saw('16384', a, b, '0/4000'), false, 'the same name again is not news');
    assert.deepEqual(p.due(0x2fffn), []);
    assert.deepEqual(p.any()?.to, b);
    const [due] = p.due(0x3000n);
    assert.deepEqual(due && { oid: due.oid, from: due.from, to: due.to, at: due.at }, {
      oid: '16384',
      from: a,
      to: b,
      at: 0x3000n,
    });
    assert.equal(p.any(), undefined);
    assert.deepEqual(p.due(0x9000n), []);
  });

  it('a second rename replaces the first, and waits for its own position', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, '0/3000');
    assert.equal(p.saw('1', a, c, '0/5000'), true);
    assert.deepEqual(p.due(0x4000n), []);
    assert.deepEqual(
      p.due(0x5000n).map((r) => r.to),
      [c],
    );
  });

  it('forgets a rename followed through a change, or a table gone', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, '0/3000');
    p.saw('2', b, c, '0/3000');
    p.drop('1');
    p.drop('2');
    assert.deepEqual(p.due(0xffffn), []);
    assert.equal(p.any(), undefined);
  });

  it('a rename whose old name another table took asks once for a read-again, and is due at its commit', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, '0/9000', '735', false);
    assert.equal(p.arm(), false, 'the old name free: nothing to read again');
    p.saw('1', a, b, '0/9000', '735', true);
    assert.equal(p.arm(), true);
    assert.equal(p.arm(), false, 'asked once');
    assert.deepEqual(
      p.reusedIn(735).map((r) => r.to),
      [b],
    );
    assert.deepEqual(p.due(0x1000n), []);
    p.committedXid(735);
    assert.deepEqual(
      p.due(0x1000n).map((r) => r.to),
      [b],
      'due at its commit, before the position',
    );
  });

  it('keeps the first renaming transaction read: a later read may name a later OWNER TO, or none', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, '0/9000', '735', true);
    assert.equal(p.saw('1', a, b, '0/9100', '790', true), false, 'not news');
    p.committedXid(790);
    assert.deepEqual(p.reusedIn(790), [], 'never placed at the later transaction');
    assert.deepEqual(
      p.reusedIn(735).map((r) => r.to),
      [b],
    );
    const q = new PendingRenames();
    q.saw('1', a, b, '0/9000', null, true);
    q.saw('1', a, b, '0/9100', '790', true);
    assert.deepEqual(q.reusedIn(790), [], 'unknown at first sight stays unknown: never placed');
  });

  it('an unreadable position is never due (the change under the new name applies it)', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, 'garbage');
    assert.deepEqual(p.due(0xffff_ffffn), []);
    assert.deepEqual(p.any()?.to, b);
  });
});
