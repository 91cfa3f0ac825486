// The catalog's renames wait until the stream has passed the WAL position they were seen at: before
// it, a change under the old name may still come.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AtStartRename,
  type PendingRename,
  PendingRenames,
  type RunningRename,
} from '../../../src/source/renames.js';

const a = { schema: 'public', table: 'a' };
const b = { schema: 'public', table: 'b' };
const c = { schema: 'other', table: 'c' };

/** The pending rename `p` as the kind the test expects it to be (fails otherwise). */
function running(p: PendingRename | undefined): RunningRename {
  assert.equal(p?.kind, 'running');
  return p as RunningRename;
}
function atStart(p: PendingRename | undefined): AtStartRename {
  assert.equal(p?.kind, 'atStart');
  return p as AtStartRename;
}

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

  it('a rename onto a name another table used (taken) is placed by its transaction: ours inside it or after its commit', () => {
    // The sink's open batch: the transactions the stream committed since its last DuckDB commit.
    const batch = new Set<number>();
    const p = new PendingRenames((x) => batch.has(x));
    batch.add(700);
    p.committedXid(700);
    p.saw('1', a, b, '0/9000', '735', false, true);
    p.saw('2', c, a, '0/9000', '700', false, true);
    const placed = p.placing('public\u0000b');
    assert.ok(placed);
    assert.equal(placed.oid, '1');
    assert.equal(p.placing('public\u0000c'), undefined, 'only the new name');
    assert.equal(p.ours(placed, 734), false, 'before the renaming transaction commits: the other table');
    assert.equal(p.ours(placed, 735), true, 'inside the renaming transaction');
    const before = p.of('2');
    assert.ok(before);
    assert.equal(p.ours(before, 1), true, 'its commit read in the open batch before the rename was seen');
    assert.equal(p.arm(), true, 'a change left out before the rename was known: read the batch again');
    assert.equal(p.arm(), false, 'asked once');
    p.committedXid(735);
    const now = p.of('1');
    assert.ok(now);
    assert.equal(p.ours(now, undefined), true);
    batch.clear();
    p.saw('3', b, c, '0/9000', '700', false, true);
    assert.equal(running(p.of('3')).passed, false, 'the open batch forgotten at a DuckDB commit');
  });

  it('marking a rename taken later keeps its position and transaction', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, '0/3000', '735', false, false);
    assert.equal(p.placing('public\u0000b'), undefined);
    p.saw('1', a, b, '', null, false, true);
    const r = running(p.of('1'));
    assert.deepEqual({ at: r.at, xid: r.xid, taken: r.taken }, { at: 0x3000n, xid: 735, taken: true });
  });

  it('a rollback takes back what the open batch taught (its commits seen, passed), not what a commit made durable', () => {
    const p = new PendingRenames((x) => x === 700);
    p.saw('1', a, b, '0/9000', '735', true);
    p.committedXid(735);
    p.committedXid(700);
    p.saw('2', c, a, '0/9000', '700', false, true);
    assert.equal(p.of('1')?.committed, true);
    assert.equal(running(p.of('2')).passed, true);
    p.rolledBack();
    assert.equal(p.of('1')?.committed, false, 'the replay meets the commit again: not due at its start');
    assert.deepEqual(p.due(0x1000n), []);
    assert.equal(running(p.of('2')).passed, false, 'its transaction is ahead in the replay again');
    p.committedXid(735);
    p.settled();
    p.rolledBack();
    assert.equal(p.of('1')?.committed, true, 'committed in DuckDB before: stays');
  });

  it('a rename taken in a batch that rolls back is pending again, as it was', () => {
    const p = new PendingRenames();
    p.saw('1', a, b, '0/9000', '735', true);
    p.committedXid(735);
    const [taken] = p.due(0x1000n);
    assert.ok(taken);
    assert.equal(p.any(), undefined);
    p.restore(taken);
    p.rolledBack();
    assert.deepEqual(p.of('1') && { to: p.of('1')?.to, committed: p.of('1')?.committed }, {
      to: b,
      committed: false,
    });
  });

  it("renamed while stopped, its commit seen in the stream: the changes left out before it were the other table's", () => {
    const p = new PendingRenames();
    p.sawAtStart('7', a, b, '0/9000', '700', false);
    const r = p.placing('public\u0000b');
    assert.ok(r);
    assert.equal(p.ours(r, 650), false, 'before the renaming commit: left out');
    p.leftOut(r);
    assert.equal(p.holding()?.oid, '7', 'no DuckDB commit over a tentatively left-out change');
    assert.deepEqual(p.due(0x8000n), [], 'never due by position alone');
    assert.equal(p.arm(), false, 'known from the start: no read-again to learn it');
    p.committedXid(700);
    assert.equal(p.holding(), undefined);
    assert.deepEqual(p.reached(0x9000n), [], 'seen in the stream: not before the resume position');
    assert.deepEqual(
      p.due(0x8800n).map((x) => x.to),
      [b],
    );
  });

  it('renamed while stopped, the stream past the start position without its commit: ours, the batch read again', () => {
    const p = new PendingRenames();
    p.sawAtStart('7', a, b, '0/9000', '700', false);
    const r = p.placing('public\u0000b');
    assert.ok(r);
    p.leftOut(r);
    assert.deepEqual(p.reached(0x8fffn), [], 'the commit may still come');
    assert.deepEqual(
      p.reached(0x9000n).map((x) => x.oid),
      ['7'],
      'left some out: read again',
    );
    // The read-again (a rollback) keeps what the WAL position showed.
    p.rolledBack();
    const again = atStart(p.of('7'));
    assert.equal(again.before, true);
    assert.equal(p.ours(again, 650), true);
    assert.equal(p.holding(), undefined);
    assert.deepEqual(
      p.due(0n).map((x) => x.to),
      [b],
      'due at once',
    );
  });

  it('renamed while stopped, seen committed in a batch that rolled back: never taken for before the resume position', () => {
    const p = new PendingRenames();
    p.sawAtStart('7', a, b, '0/9000', '700', false);
    p.committedXid(700);
    p.rolledBack();
    assert.deepEqual(p.reached(0x9000n), []);
    assert.equal(atStart(p.of('7')).before, false);
  });
});
