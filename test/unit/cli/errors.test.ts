// The one line every failure ends as: the phase from any walduck error (by class, not by the shape of
// an object), the SQLSTATE of a server error when the message lacks it, usage errors without a phase.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeError, UsageError } from '../../../src/cli/errors.js';
import { ConnectionError, PgServerError } from '../../../src/protocol/index.js';
import { ReplicateError } from '../../../src/replicator/errors.js';
import { SlotError } from '../../../src/source/slot.js';

it('names the phase of a walduck error from any room, on one line', () => {
  assert.equal(
    describeError(new ConnectionError('WALDUCK_CONNECT_FAILED', 'connect', 'no route\nto host')),
    'walduck: connect failed: no route to host',
  );
  assert.equal(
    describeError(new ReplicateError('slot', 'WALDUCK_SLOT_GONE', 'slot s no longer exists')),
    'walduck: slot failed: slot s no longer exists',
  );
  assert.equal(
    describeError(new SlotError('WALDUCK_SLOT_MISSING', 'no replication slot named s', 'slot status')),
    'walduck: slot status failed: no replication slot named s',
  );
});

it('adds the SQLSTATE of a server error only when its message does not show it', () => {
  const e = new PgServerError('command', {
    severity: 'ERROR',
    sqlstate: '42P01',
    message: 'relation "t" does not exist',
  });
  assert.equal(describeError(e), 'walduck: command failed: ERROR 42P01: relation "t" does not exist');
  const wrapped = new ReplicateError('snapshot', 'WALDUCK_SNAPSHOT', 'copy failed', { cause: e });
  assert.equal(describeError(wrapped), 'walduck: snapshot failed: copy failed');
});

it('prints usage errors and foreign errors without a phase; an object shaped like ours is not ours', () => {
  assert.equal(describeError(new UsageError('name the slot with -S')), 'walduck: name the slot with -S');
  assert.equal(describeError(new Error('EACCES: permission denied')), 'walduck: EACCES: permission denied');
  const lookalike = Object.assign(new Error('from a library'), { phase: 'connect', sqlstate: '28P01' });
  assert.equal(describeError(lookalike), 'walduck: from a library');
  assert.equal(describeError('a string'), 'walduck: a string');
});
