// A connection cut while a column added with a per-row default is filled from the source (the fill
// reads the values by key on the side connection): an ordinary lost link, healed by reconnecting. Its
// retry line said `cannot apply a row (table …, key …): the server closed the connection unexpectedly
// … [WALDUCK_APPLY]; reconnecting`, as if a row had failed to apply. It says the lost link, with its
// own code, as every cut does. The fill's page read is held on a lock, then its backend terminated.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { psqlSession } from '../../helpers/psql-session.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-fill-cut-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('a connection cut during a fill from the source is said as the lost link it is, not as an apply error', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    "CREATE TABLE filled (id int PRIMARY KEY, v text); INSERT INTO filled SELECT g, 'v' FROM generate_series(1, 25000) g",
  );
  const argv = args('fill.duckdb', '--tables', 'filled');
  const run = startWatched(argv, 'walduck:replicate');
  let from = 0;
  try {
    await run.waitFor(/streaming from slot/);
    from = run.text().length;
    // The lock is taken right after the commit: the fill's first page read waits on it.
    const s = psqlSession(
      c.info,
      `BEGIN; ALTER TABLE filled ADD COLUMN at timestamptz DEFAULT clock_timestamp(); INSERT INTO filled (id, v) VALUES (0, 'after'); COMMIT;
       BEGIN; LOCK TABLE filled IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n`,
      'locked',
    );
    await s.ready;
    // Waits in the server until the page read waits on the lock, then ends its backend.
    psql(
      c.info,
      `DO $$ DECLARE t0 timestamptz := clock_timestamp(); n int; BEGIN LOOP
         PERFORM pg_stat_clear_snapshot();
         SELECT count(pg_terminate_backend(pid)) INTO n FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%ORDER BY%LIMIT%';
         EXIT WHEN n > 0;
         IF clock_timestamp() - t0 > interval '60 s' THEN RAISE EXCEPTION 'no fill read waited on the lock'; END IF;
         PERFORM pg_sleep(0.01);
       END LOOP; END $$`,
    );
    await s.end('COMMIT;\n');
    await run.waitFor(/public\.filled: ADD COLUMN at .* applied at LSN/, from);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const tail = r.stderr.slice(from);
  assert.doesNotMatch(tail, /WALDUCK_APPLY/);
  assert.match(
    tail,
    /the server closed the connection unexpectedly .*\[WALDUCK_CONNECTION_\w+\]; reconnecting/,
  );
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 'fill.duckdb'), [{ schema: 'public', table: 'filled' }]);
});
