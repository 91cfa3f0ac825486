// Which failures walduck retries, how it waits, and the timers it derives from wal_sender_timeout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AuthError, ConnectionError, PgServerError, ProtocolError } from '../../../src/protocol/index.js';
import { ReplicateError } from '../../../src/replicator/errors.js';
import { liveness, parsePgDuration } from '../../../src/replicator/replicate.js';
import { Backoff, failureCode, isTransient } from '../../../src/replicator/retry.js';

const server = (sqlstate: string, message = 'x') =>
  new PgServerError('stream', { severity: 'FATAL', sqlstate, message } as ConstructorParameters<
    typeof PgServerError
  >[1]);

describe('transient or permanent', () => {
  it('retries what heals by itself', () => {
    for (const e of [
      new ConnectionError('WALDUCK_CONNECTION_LOST', 'stream', 'lost'),
      new ConnectionError('WALDUCK_CONNECT_FAILED', 'connect', 'refused'),
      new ConnectionError('WALDUCK_CONNECT_TIMEOUT', 'connect', 'slow'),
      new ConnectionError('WALDUCK_RECEIVE_TIMEOUT', 'stream', 'silent'),
      new ConnectionError('WALDUCK_TLS_FAILED', 'tls', 'tls'),
      new ConnectionError('WALDUCK_STREAM_ENDED', 'stream', 'ended'),
      new ProtocolError('WALDUCK_TRUNCATED_FRAME', 'stream', 'cut'),
      server('57P01', 'terminating connection due to administrator command'),
      server('57P02'),
      server('57P03', 'the database system is starting up'),
      server('55006', 'replication slot "s" is active for PID 42'),
      server('08006'),
      new ReplicateError('slot', 'WALDUCK_SLOT_ACTIVE', 'in use'),
      new ReplicateError('stream', 'WALDUCK_STREAM_ENDED', 'ended'),
      Object.assign(new Error('getaddrinfo EAI_AGAIN db'), { code: 'EAI_AGAIN' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    ]) {
      assert.equal(isTransient(e), true, `${failureCode(e)}: ${e.message}`);
    }
  });

  it('stops at once on what does not', () => {
    for (const e of [
      server('28P01', 'password authentication failed'),
      server('42P01', 'relation does not exist'),
      server('58P01', 'could not access file "wal2json"'),
      server('55000', 'can no longer get changes from replication slot'),
      server('42704', 'replication slot does not exist'),
      new AuthError('WALDUCK_SCRAM_BAD_SERVER_SIGNATURE', 'forged'),
      new ProtocolError('WALDUCK_MALFORMED_MESSAGE', 'stream', 'bad'),
      new ReplicateError('slot', 'WALDUCK_SLOT_GONE', 'gone'),
      new ReplicateError('slot', 'WALDUCK_SLOT_AHEAD', 'ahead'),
      new ReplicateError('slot', 'WALDUCK_SLOT_LOST', 'lost'),
      new ReplicateError('preflight', 'WALDUCK_OTHER_SOURCE', 'other'),
      new Error('plain'),
    ]) {
      assert.equal(isTransient(e), false, `${failureCode(e)}: ${e.message}`);
    }
  });
});

describe('backoff', () => {
  it('grows exponentially within [d/2, d], capped, with jitter; reset starts over', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (rs) => {
          let i = 0;
          const b = new Backoff({ initialMs: 100, maxMs: 5000, random: () => rs[i++ % rs.length] as number });
          for (let n = 1; n <= rs.length; n++) {
            const d = Math.min(5000, 100 * 2 ** (n - 1));
            const v = b.next();
            assert.ok(v >= d / 2 - 1 && v <= d + 1, `attempt ${n}: ${v} outside [${d / 2}, ${d}]`);
          }
          b.reset();
          assert.ok(b.next() <= 100);
        },
      ),
      { seed: 14, numRuns: 200 },
    );
  });
});

describe('liveness from wal_sender_timeout', () => {
  it('reads the setting as SHOW prints it', () => {
    assert.equal(parsePgDuration('60s'), 60_000);
    assert.equal(parsePgDuration('1min'), 60_000);
    assert.equal(parsePgDuration('3500ms'), 3500);
    assert.equal(parsePgDuration('0'), 0);
  });

  it('sends status within a third of the timeout and notices silence after about the timeout', () => {
    assert.deepEqual(liveness(60_000, undefined), { feedbackIntervalMs: 10_000, receiveTimeoutMs: 60_000 });
    assert.deepEqual(liveness(3_000, 10_000), { feedbackIntervalMs: 1000, receiveTimeoutMs: 3000 });
    assert.deepEqual(liveness(60_000, 2_000), { feedbackIntervalMs: 2000, receiveTimeoutMs: 60_000 });
    // wal_sender_timeout = 0 (off): still a receive timeout, so a dead link is noticed.
    assert.equal(liveness(0, undefined).receiveTimeoutMs, 60_000);
  });
});
