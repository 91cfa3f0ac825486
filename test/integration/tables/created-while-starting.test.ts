// All tables, first start: the tables are listed before the replication slot is created, and its
// creation waits for the transactions running then. A table such a transaction created is in the
// slot's snapshot but not in the list: walduck took it as new at its next change, and the rows it
// held before the slot were in neither the copy nor the stream (lost, exit 0). And a start stopped
// before its snapshot committed leaves the tables it made, empty: one changed at the source before
// the next start must be made again, not copied into in its old shape.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { psqlSession } from '../../helpers/psql-session.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-starting-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

it('all tables: a table committed while the slot is made is copied with its rows, not taken as new', {
  timeout: 60_000,
}, async () => {
  psql(c.info, 'CREATE TABLE base (id int PRIMARY KEY); INSERT INTO base VALUES (1)');
  const open = psqlSession(
    c.info,
    "BEGIN; CREATE TABLE late (id int PRIMARY KEY, v text); INSERT INTO late VALUES (1, 'before'); SELECT 'open' || 'ed';\n",
    'opened',
  );
  await open.ready;
  const argv = args('late.duckdb', '--slot', 'late_slot');
  const run = startWatched(argv, 'walduck:*');
  // Listed without it (not committed yet): it commits before the slot's snapshot, or the slot's
  // creation waits for it; either way the snapshot sees it.
  await run.waitFor(/tables: public\.base\n/);
  assert.equal(await open.end('COMMIT;\n'), 0);
  await run.waitFor(/streaming from slot/);
  psql(c.info, "INSERT INTO late VALUES (2, 'after')");
  run.child.kill('SIGTERM');
  const first = await run.done;
  assert.equal(first.code, 0, first.stderr);
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 'late.duckdb'), [t('base'), t('late')]);
  // Said once, in one line, and retried by itself.
  assert.equal(
    first.stderr
      .split('\n')
      .filter((l) => l.includes('was created while the replication slot was being made')).length,
    1,
    first.stderr,
  );
});

it('a start stopped before its snapshot committed, then the table changed at the source: the next start copies it as it is now', {
  timeout: 60_000,
}, async () => {
  psql(c.info, "CREATE TABLE shifty (id int PRIMARY KEY, v text); INSERT INTO shifty VALUES (1, 'a')");
  // Holds the slot's creation (it waits for running transactions) until the stop.
  const hold = psqlSession(c.info, "BEGIN; SELECT txid_current(); SELECT 'hel' || 'd';\n", 'held');
  await hold.ready;
  const argv = args('shifty.duckdb', '--slot', 'shifty_slot', '--tables', 'shifty');
  const run = startWatched(argv, 'walduck:*');
  // The walsender waits for the held transaction: the DuckDB tables are made by then.
  while (
    psql(
      c.info,
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND wait_event_type = 'Lock'",
    ) === '0'
  )
    await sleep(50);
  run.child.kill('SIGTERM');
  const stopped = await run.done;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /the next start copies again/);
  await hold.end('ROLLBACK;\n');
  psql(
    c.info,
    "DROP TABLE shifty; CREATE TABLE shifty (id bigint PRIMARY KEY, n int, v text); INSERT INTO shifty VALUES (1, 5, 'b')",
  );
  // Before: the old empty DuckDB table and its record were kept, and every start failed on a CSV error.
  const r = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(r.code, 0, r.stderr);
  await assertReplicaEquals(c.info, join(dir, 'shifty.duckdb'), [t('shifty')]);
});
