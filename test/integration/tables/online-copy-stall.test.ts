// An online copy whose own connection goes half-open in the middle of a chunk (the replication link and
// every other connection still fine): the copier must notice within the stall bound (the replication
// link's receive timeout, here wal_sender_timeout 3 s), read the chunk again on a new connection and
// finish, and not wait for ever while the stream goes on (which looked like a healthy replica whose
// table said "copying" for good). A statement that waits on the server for a lock is not a stall: it
// is waited on, with one warning. Forced deterministically: a lock on the table holds the copier inside its chunk SELECT
// while the test stalls that one session through the fault proxy, then lets the SELECT finish, so
// its reply goes into the void.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { FaultProxy } from '../../helpers/faults.js';
import { psqlSession } from '../../helpers/psql-session.js';
import { replicateArgs, runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck', settings: { wal_sender_timeout: '3s' } });
const dir = useWorkdir('walduck-copy-stall-');

/** A session holding `LOCK TABLE name IN ACCESS EXCLUSIVE MODE` until release(). */
async function lockTable(name: string): Promise<{ release: () => Promise<void> }> {
  const lock = psqlSession(
    c.info,
    `BEGIN; LOCK TABLE ${name} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n`,
    'locked',
  );
  await lock.ready;
  return {
    release: async () => {
      const code = await lock.end('COMMIT;\n');
      if (code !== 0) throw new Error(`lock session exited ${code}`);
    },
  };
}

it('reads a chunk again on a new connection when its link stalls, and waits on a lock', {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE p (id int PRIMARY KEY, note text);
     INSERT INTO p SELECT g, 'p' || g FROM generate_series(1, 50) g;
     CREATE TABLE q (id int PRIMARY KEY, note text);
     INSERT INTO q SELECT g, 'q' || g FROM generate_series(1, 3000) g;`,
  );
  const file = join(dir, 'stall.duckdb');
  const first = await runWalduck([
    ...replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)('stall.duckdb', '--tables', 'p'),
    '--until-caught-up',
  ]);
  assert.equal(first.code, 0, first.stderr);

  const lock = await lockTable('q');
  const proxy = await FaultProxy.start(c.info.port);
  const through = conninfo(c.info, 'scram-sha-256', { port: String(proxy.port) });
  const run = startWatched(
    [
      ...replicateArgs(() => through, dir)('stall.duckdb', '--tables', 'p,q', '--copy-chunk-rows', '500'),
      '--until-caught-up',
    ],
    'walduck:sink,walduck:replicate',
  );
  // Only a hang guard (before the fix the copier waited for ever): never an assertion on time.
  const guard = setTimeout(() => run.child.kill('SIGKILL'), 150_000);
  try {
    // The copier's SELECT waits for the lock past the stall bound: looked at, and waited on.
    const waiting =
      /online copy of public\.q: a statement has not answered for \d+ ms \(backend (\d+) active, waiting for Lock:relation\): waiting on/;
    await run.waitFor(waiting);
    const pid = Number(waiting.exec(run.text())?.[1]);
    const port = Number(psql(c.info, `SELECT client_port FROM pg_stat_activity WHERE pid = ${pid}`));
    // That session alone goes half-open; then the SELECT may finish, and its reply is lost.
    assert.ok(proxy.stallSession(port), `no proxied connection from port ${port}`);
    await lock.release();
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`a statement has not answered for \\d+ ms \\(backend ${pid} idle[^)]*\\): the link stalled`),
    );
    assert.match(
      r.stderr,
      /online copy of public\.q: chunk \S+ failed \(WALDUCK_CONNECTION_CLOSED: .*\); reading it again on a new connection/,
    );
    // The lock wait also reached stderr without DEBUG: once (the looks repeat), naming the holder.
    const warned = r.stderr.match(
      /^walduck: warning: online copy of public\.q: a chunk has waited over \d+ ms for a lock \(backend \d+, waiting for Lock:relation, held by backend \d+\); the copy goes on once it is granted$/gm,
    );
    assert.equal(warned?.length, 1, r.stderr);
    assert.match(r.stderr, /online copy of public\.q: chunk \d+ wrote \d+ row\(s\) \(3000 in all\), done/);
  } finally {
    clearTimeout(guard);
    run.child.kill('SIGKILL');
    await lock.release().catch(() => {});
    await proxy.close();
  }
  await assertReplicaEquals(c.info, file, [
    { schema: 'public', table: 'p' },
    { schema: 'public', table: 'q' },
  ]);
  assert.deepEqual(
    (await statusJson(file)).map((x) => [x.table, x.state]),
    [
      ['public.p', 'streaming'],
      ['public.q', 'streaming'],
    ],
  );
});
