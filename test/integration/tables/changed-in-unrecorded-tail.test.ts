// What a start finds changed in the source catalog happened after the replica's last commit, which is
// not always while walduck was stopped: a run that saw it can end (kill -9) before it commits what it
// decided. The start's line said "while walduck was stopped" for a table dropped and created again
// while walduck ran; it names both cases now. The run is paused (SIGSTOP) before the DDL and killed
// after it, so its catalog check cannot have committed the change: the next start decides it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-unrecorded-tail-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('a table dropped and created again while walduck ran, then kill -9: the next start does not say it happened while walduck was stopped', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    "CREATE TABLE tail (id int PRIMARY KEY, v text); INSERT INTO tail VALUES (1, 'old'), (2, 'old')",
  );
  const argv = args('tail.duckdb');
  const first = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const run = startWatched(argv, 'walduck:replicate');
  try {
    await run.waitFor(/streaming from slot/);
    run.child.kill('SIGSTOP');
    psql(
      c.info,
      "BEGIN; DROP TABLE tail; CREATE TABLE tail (id int PRIMARY KEY, v text); INSERT INTO tail VALUES (5, 'new'); COMMIT;",
    );
  } finally {
    run.child.kill('SIGKILL');
  }
  await run.done;
  const next = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(next.code, 0, next.stderr);
  assert.doesNotMatch(next.stderr, /while walduck was stopped \(oid/);
  assert.match(
    next.stderr,
    /public\.tail \(oid \d+\) was dropped and created again \(oid \d+\) since the replica's last commit \(while walduck was stopped, or in a run that ended before its next commit\): re-copying it online/,
  );
  await assertReplicaEquals(c.info, join(dir, 'tail.duckdb'), [{ schema: 'public', table: 'tail' }]);
});
