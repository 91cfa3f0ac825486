// All-tables mode: a table created while walduck runs, stopped mid online copy (state copying), then
// renamed at the source while walduck is stopped. The next start must copy it under its new name.
// Before, that start took the new name for a table created since the last start ("all its rows are in
// WAL after the recorded position"), streamed into an empty DuckDB table, exit 0, every row copied
// before the stop and every row the copy had not reached missing, `walduck status` saying streaming.
// (The same rename while walduck runs stops it in one line first, then reaches this start.)
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-renamed-copy-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('a table renamed while stopped mid online copy is copied under its new name at the next start', {
  timeout: 180_000,
}, async () => {
  psql(c.info, 'CREATE TABLE seed (id int PRIMARY KEY); INSERT INTO seed VALUES (1)');
  const argv = args('rc.duckdb', '--copy-chunk-rows', '100');
  const run = startWatched(argv, 'walduck:replicate,walduck:sink');
  await run.waitFor(/streaming from slot/);
  psql(
    c.info,
    `CREATE TABLE c (id int, v text); INSERT INTO c SELECT g, 'v' || g FROM generate_series(1, 20000) g`,
  );
  await run.waitFor(/not replicating new table public\.c:/);
  // The key first, then a change once walduck has seen it: a change that arrives before the catalog
  // check (about once a second) has seen the key is dropped with the skipped table's, and the table
  // joins only at its next change.
  psql(c.info, 'ALTER TABLE c ADD PRIMARY KEY (id)');
  await run.waitFor(/new table public\.c, skipped earlier in this run, can be replicated now/);
  psql(c.info, "INSERT INTO c VALUES (20001, 'k')");
  // Stopped with the copy begun and not done (200 chunks of 100 rows; checked below).
  await run.waitFor(/online copy of public\.c: chunk 1 wrote/);
  run.child.kill('SIGINT');
  const stopped = await run.done;
  assert.equal(stopped.code, 0, stopped.stderr);
  const states = (await statusJson(join(dir, 'rc.duckdb'))).map((r) => [r.table, r.state]);
  assert.deepEqual(states, [
    ['public.c', 'copying'],
    ['public.seed', 'streaming'],
  ]);
  psql(
    c.info,
    "ALTER TABLE c RENAME TO c2; INSERT INTO c2 VALUES (20002, 'r'); UPDATE c2 SET v = 'u' WHERE id = 5; INSERT INTO seed VALUES (2)",
  );
  const next = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(
    next.stderr,
    /table public\.c2 joins the table set of an existing replica \(recorded as public\.c, copying, renamed since\)/,
  );
  await assertReplicaEquals(c.info, join(dir, 'rc.duckdb'), [
    { schema: 'public', table: 'seed' },
    { schema: 'public', table: 'c2' },
  ]);
});
