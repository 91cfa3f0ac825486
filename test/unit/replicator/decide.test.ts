// The start decision with the snapshot modes: when a slot is created with a snapshot, recreated, or
// resumed, and what is refused.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decideStart, type SlotFacts } from '../../../src/replicator/slot.js';

const slot: SlotFacts = {
  plugin: 'wal2json',
  slotType: 'logical',
  database: 'db',
  activePid: null,
  confirmedFlush: 100n,
};
const auto = { mode: 'auto', pending: false } as const;

it('creates with a snapshot by default, without one under --no-snapshot', () => {
  assert.deepEqual(decideStart('s', 'db', undefined, undefined, auto), {
    action: 'create',
    snapshot: true,
    dropFirst: false,
  });
  assert.deepEqual(decideStart('s', 'db', undefined, undefined, { mode: 'off', pending: false }), {
    action: 'create',
    snapshot: false,
    dropFirst: false,
  });
});

it('recreates its own slot left by an unfinished snapshot, or any inactive slot under --snapshot', () => {
  const recreate = { action: 'create', snapshot: true, dropFirst: true };
  assert.deepEqual(decideStart('s', 'db', slot, undefined, { mode: 'auto', pending: true }), recreate);
  assert.deepEqual(decideStart('s', 'db', slot, undefined, { mode: 'force', pending: false }), recreate);
});

it('resumes a foreign slot without state when not forced (as before)', () => {
  const d = decideStart('s', 'db', slot, undefined, auto);
  assert.equal(d.action, 'resume');
  assert.equal(d.action === 'resume' && d.from, 100n);
  assert.equal(decideStart('s', 'db', slot, undefined, { mode: 'off', pending: true }).action, 'resume');
});

it('never drops an active slot, another plugin or another database', () => {
  const force = { mode: 'force', pending: true } as const;
  assert.throws(() => decideStart('s', 'db', { ...slot, activePid: 42 }, undefined, force), /in use/);
  assert.throws(
    () => decideStart('s', 'db', { ...slot, plugin: 'pgoutput' }, undefined, force),
    /not a wal2json/,
  );
  assert.throws(
    () => decideStart('s', 'db', { ...slot, database: 'x' }, undefined, force),
    /belongs to database/,
  );
});

it('refuses --snapshot on a file that holds a replica; resumes it otherwise', () => {
  assert.throws(
    () => decideStart('s', 'db', slot, 100n, { mode: 'force', pending: false }),
    /already holds a replica/,
  );
  assert.deepEqual(decideStart('s', 'db', slot, 150n, { mode: 'auto', pending: true }), {
    action: 'resume',
    from: 150n,
  });
});
