// The side connection (src/replicator/side-query.ts) against a real server: a server error keeps the
// session, a terminated backend or a stalled link drops it, and the next query opens a new one.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { ConnectionError, PgServerError, parseConnectionString } from '../../../src/protocol/index.js';
import { sideQuery } from '../../../src/replicator/side-query.js';
import { useCluster } from '../../helpers/cluster.js';
import { FaultProxy } from '../../helpers/faults.js';

const c = useCluster();
const settings = (port = c.info.port) =>
  parseConnectionString(conninfo(c.info, 'scram-sha-256', { port: String(port) }), {});
const pid = async (q: ReturnType<typeof sideQuery>) => (await q.query('SELECT pg_backend_pid()'))[0]?.[0];

it('opens on first use, keeps the session through a server error, and runs init on it', async () => {
  const q = sideQuery(settings(), { timeoutMs: 30_000, init: "SET application_name = 'side'" });
  try {
    const first = await pid(q);
    await assert.rejects(
      q.query('SELECT 1/0'),
      (err) => err instanceof PgServerError && err.code === '22012',
    );
    assert.equal(await pid(q), first, 'the same backend after a server error');
    assert.deepEqual(await q.query('SHOW application_name'), [['side']]);
  } finally {
    await q.close();
  }
});

it('after its backend was terminated, fails that query and reconnects on the next one', async () => {
  const q = sideQuery(settings(), { timeoutMs: 30_000, init: "SET application_name = 'side'" });
  try {
    const first = await pid(q);
    psql(c.info, `SELECT pg_terminate_backend(${Number(first)}, 10000)`);
    // The session is gone: this query fails on it (whatever reached the client first) ...
    await assert.rejects(
      q.query('SELECT 1'),
      (err) => err instanceof ConnectionError || err instanceof PgServerError,
    );
    // ... and the next one runs on a new session, set up again by init.
    const second = await pid(q);
    assert.notEqual(second, first);
    assert.deepEqual(await q.query('SHOW application_name'), [['side']]);
  } finally {
    await q.close();
  }
});

it('bounds a query on a stalled link: the timer closes the connection, and the next query reconnects', {
  timeout: 60_000,
}, async () => {
  const proxy = await FaultProxy.start(c.info.port);
  const q = sideQuery(settings(proxy.port), { timeoutMs: 300 });
  try {
    const first = await pid(q);
    // A half-open link for the open connection; new connections still pass.
    proxy.stallOpen();
    await assert.rejects(
      q.query('SELECT 1'),
      (err) => err instanceof ConnectionError && err.code === 'WALDUCK_CONNECTION_CLOSED',
    );
    const second = await pid(q);
    assert.notEqual(second, first);
  } finally {
    await q.close();
    await proxy.close();
  }
});

it('waits past the bound while busy() says the backend still works, and closes once it says not', {
  timeout: 60_000,
}, async () => {
  const asked: number[] = [];
  let working = true;
  const q = sideQuery(settings(), {
    timeoutMs: 200,
    busy: async (backend) => {
      asked.push(backend);
      return working;
    },
  });
  try {
    const first = await pid(q);
    // A statement running past the bound: each look says it works, so it finishes.
    assert.deepEqual(await q.query('SELECT pg_sleep(1), 1'), [['', '1']]);
    assert.ok(asked.length >= 1, 'busy() was asked');
    assert.ok(
      asked.every((b) => b === Number(first)),
      'about the session running the statement',
    );
    // Once busy() says the backend is not working on it, the connection is closed and the query fails.
    working = false;
    await assert.rejects(
      q.query('SELECT pg_sleep(30)'),
      (err) => err instanceof ConnectionError && err.code === 'WALDUCK_CONNECTION_CLOSED',
    );
    assert.notEqual(await pid(q), first, 'a new session for the next query');
  } finally {
    await q.close();
  }
});
