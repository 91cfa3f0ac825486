// A server restart (pg_ctl restart -m fast) ends every session: the replication connection and the
// side connection kept for catalog lookups. walduck reconnects the stream; the side connection, idle
// at the restart, was kept as it was, so the first lookup after it (the first change of a table
// created since, all tables) failed with "cannot run a query: the connection failed earlier" and cost
// a second reconnect. One restart must cost one reconnect.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { restartCluster } from '../../helpers/faults.js';
import { replicateArgs, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-restart-side-');

it('a server restart costs one reconnect, the catalog lookup after it included', {
  timeout: 120_000,
}, async () => {
  psql(c.info, `CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'x');`);
  const argv = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)('r.duckdb', '--slot', 'r_slot');
  const run = startWatched(argv, 'walduck:*');
  await run.waitFor(/streaming from slot/);
  // A lookup before the restart opens the side connection, so that the restart finds it open.
  psql(c.info, `CREATE TABLE b (id int PRIMARY KEY, v text); INSERT INTO b VALUES (1, 'y');`);
  await run.waitFor(/committed [1-9]\d* change/);
  const from = run.text().length;
  restartCluster(c.info, 'fast');
  await run.waitFor(/streaming from slot/, from);
  psql(c.info, `CREATE TABLE d (id int PRIMARY KEY, v text); INSERT INTO d VALUES (1, 'z');`);
  await run.waitFor(/committed [1-9]\d* change/, from);
  psql(c.info, `INSERT INTO a VALUES (2, 'w')`);
  const mark = run.text().length;
  await run.waitFor(/committed [1-9]\d* change/, mark);
  run.child.kill('SIGTERM');
  const done = await run.done;
  assert.equal(done.code, 0, done.stderr);
  const after = done.stderr.slice(from);
  // Attempts 2, 3… of the one reconnect are refused connects while the server is down: not counted.
  const reconnects = after.split('\n').filter((l) => /reconnecting, attempt 1,/.test(l));
  assert.equal(reconnects.length, 1, after);
  assert.doesNotMatch(after, /failed earlier/);
  await assertReplicaEquals(c.info, join(dir, 'r.duckdb'), [
    { schema: 'public', table: 'a' },
    { schema: 'public', table: 'b' },
    { schema: 'public', table: 'd' },
  ]);
});
