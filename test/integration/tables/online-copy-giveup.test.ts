// An online copy whose chunk reads keep failing must not be retried for ever in silence, nor let the
// slot pass what is not applied. Forced deterministically: a session holds a lock on the copied table,
// so every chunk SELECT of the copier waits on it, and a watcher in the server terminates each backend
// that waits on that lock (an administrator's or a watchdog's pg_terminate_backend). Each chunk read so
// fails (57P01, transient): after MAX_RETRIES in a row the session fails naming the copy, is retried
// like a cut link, and once --retry-for has passed walduck stops with one line naming the table. The
// stream went on meanwhile: the slot is acked no further than what DuckDB recorded, and a run after
// the lock is gone finishes the copy with every row.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { psqlSession } from '../../helpers/psql-session.js';
import { replicateArgs, runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-copy-giveup-');

it('stops with one line naming the table when its chunk reads keep failing, acked no further than applied', {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE p (id int PRIMARY KEY, note text);
     INSERT INTO p SELECT g, 'p' || g FROM generate_series(1, 50) g;
     CREATE TABLE q (id int PRIMARY KEY, note text);
     INSERT INTO q SELECT g, 'q' || g FROM generate_series(1, 300) g;`,
  );
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const file = join(dir, 'giveup.duckdb');
  const first = await runWalduck([...args('giveup.duckdb', '--tables', 'p'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);

  // Changes in WAL after the slot's position, to both tables: streamed while the copy fails.
  psql(
    c.info,
    `INSERT INTO p SELECT g, 'p' || g FROM generate_series(51, 80) g;
     UPDATE q SET note = 'changed' WHERE id % 7 = 0;
     INSERT INTO q VALUES (301, 'new');`,
  );
  const lock = psqlSession(
    c.info,
    "BEGIN; LOCK TABLE q IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n",
    'locked',
  );
  await lock.ready;
  // Terminates every backend that waits for a lock on q, until terminated itself.
  const killer = psqlSession(
    c.info,
    `SELECT 'watching';
     DO $$ BEGIN LOOP
       PERFORM pg_terminate_backend(l.pid) FROM pg_locks l
        WHERE l.relation = 'public.q'::regclass AND NOT l.granted;
       PERFORM pg_sleep(0.02);
     END LOOP; END $$;\n`,
    'watching',
    'copy-killer',
  );
  await killer.ready;
  const run = startWatched(
    [...args('giveup.duckdb', '--tables', 'p,q'), '--until-caught-up', '--retry-for', '1s'],
    'walduck:sink,walduck:replicate',
  );
  // Only a hang guard (before the fix a copy that failed in every session was retried for ever, each
  // session's watermarks counting as progress): never an assertion on time.
  const guard = setTimeout(() => run.child.kill('SIGKILL'), 150_000);
  let r: Awaited<typeof run.done>;
  try {
    r = await run.done;
  } finally {
    clearTimeout(guard);
    run.child.kill('SIGKILL');
    psql(
      c.info,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'copy-killer'`,
    );
    await killer.closed;
  }
  assert.notEqual(r.signal, 'SIGKILL', `walduck did not stop: ${r.stderr.slice(-3000)}`);
  assert.equal(r.code, 1, r.stderr);
  // Each chunk read failed as a terminated backend, read again on a new connection, then given up.
  assert.match(
    r.stderr,
    /online copy of public\.q: chunk \S+ failed \(\S+: .*\); reading it again on a new connection in \d+ ms \(5 of 5\)/,
  );
  // Given up, the session was retried like a cut link (a warning naming the copy), then the one line.
  assert.match(
    r.stderr,
    /walduck: warning: online copy of public\.q: 6 chunk attempts in a row failed, the last: .*; reconnecting, attempt 1,/,
  );
  const last = r.stderr.trimEnd().split('\n').at(-1) ?? '';
  assert.match(
    last,
    /^walduck: stream failed: online copy of public\.q: 6 chunk attempts in a row failed, the last: .* \(gave up after \d+ attempt\(s\) in \d+ s: --retry-for\)$/,
  );

  // The stream went on (p's new rows are in), but the slot is acked no further than DuckDB's record.
  const status = await statusJson(file);
  assert.deepEqual(
    status.map((x) => [x.table, x.state]),
    [
      ['public.p', 'streaming'],
      ['public.q', 'copying'],
    ],
  );
  const recorded = String(status[0]?.lsn);
  assert.equal(
    psql(c.info, `SELECT confirmed_flush_lsn <= '${recorded}'::pg_lsn FROM pg_replication_slots`),
    't',
    `slot acked past ${recorded}`,
  );

  // Once the lock is gone, the copy finishes from where it was: every row, every change.
  await lock.end('COMMIT;\n');
  const last2 = await runWalduck(
    [...args('giveup.duckdb', '--tables', 'p,q'), '--until-caught-up'],
    {},
    120_000,
  );
  assert.equal(last2.code, 0, last2.stderr);
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
