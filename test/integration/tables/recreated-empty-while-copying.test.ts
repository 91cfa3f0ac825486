// A table being copied online dropped at the source, seen dropped by the catalog check, then created
// again EMPTY under its name in another shape: no change of the new table reaches the stream, so only
// the catalog check can tell. Reported as walduck exiting 1 after MAX_RETRIES failed chunk SELECTs; not
// reproduced this way (nor with DROP and CREATE in one transaction): kept so that it stays so.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-recreated-empty-copy-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

it('a table dropped and created again empty while its online copy runs is copied as the new, empty table', {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'a');
     CREATE TABLE b (id int PRIMARY KEY, note text, n int);
     INSERT INTO b SELECT g, 'n' || g, g FROM generate_series(1, 20000) g;`,
  );
  const first = await runWalduck([...args('re.duckdb', '--tables', 'a'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const argv = args('re.duckdb', '--tables', 'a,b', '--copy-chunk-rows', '300');
  const run = startWatched(argv, 'walduck:*');
  await run.waitFor(/online copy of public\.b: chunk 1 wrote/);
  // Dropped, seen dropped by the catalog check, then created again empty in another shape.
  const from = run.text().length;
  psql(c.info, 'DROP TABLE b');
  await run.waitFor(/table public\.b was dropped at the source/, from);
  psql(c.info, "CREATE TABLE b (id bigint PRIMARY KEY, w text); INSERT INTO a VALUES (2, 'b')");
  await run.waitFor(/online copy of public\.b: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
  run.child.kill('SIGINT');
  const done = await run.done;
  assert.equal(done.code, 0, done.stderr);
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 're.duckdb'), [t('a'), t('b')]);
});
