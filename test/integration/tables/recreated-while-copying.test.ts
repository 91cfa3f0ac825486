// A table being copied online (added to --tables on an existing replica) dropped at the source and
// created again under its name in another shape while its copy runs: the copy must go on with the new
// table (its columns and key), not read the dropped table's columns (the chunk SELECT failed with
// ERROR 42703 and walduck exited 1), and the replica must equal the source.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-recreated-copy-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

it('a table dropped and created in another shape while its online copy runs is copied with its new shape', {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'a');
     CREATE TABLE b (id int PRIMARY KEY, note text, n int);
     INSERT INTO b SELECT g, 'n' || g, g FROM generate_series(1, 20000) g;`,
  );
  const first = await runWalduck([...args('rc.duckdb', '--tables', 'a'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const argv = args('rc.duckdb', '--tables', 'a,b', '--copy-chunk-rows', '300');
  const run = startWatched(argv, 'walduck:*');
  await run.waitFor(/online copy of public\.b: chunk 1 wrote/);
  // The lock holds the copier's next chunk until the new table is there (20000 rows in chunks of 300:
  // the copy is still running either way).
  psql(
    c.info,
    `BEGIN; LOCK TABLE b IN ACCESS EXCLUSIVE MODE; DROP TABLE b;
     CREATE TABLE b (id bigint PRIMARY KEY, w text);
     INSERT INTO b SELECT g, 'w' || g FROM generate_series(1, 2000) g; COMMIT;`,
  );
  psql(c.info, "INSERT INTO b VALUES (100000, 'after'); INSERT INTO a VALUES (2, 'b')");
  await run.waitFor(/online copy of public\.b: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
  run.child.kill('SIGINT');
  const done = await run.done;
  assert.equal(done.code, 0, done.stderr);
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 'rc.duckdb'), [t('a'), t('b')]);
});
