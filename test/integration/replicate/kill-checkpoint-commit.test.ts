// kill -9 while DuckDB checkpoints a large transaction inside its COMMIT, skipping its WAL
// (commit-room.ts): the rows and the LSN recorded with them land in the file together or not at
// all, so the next run applies the transaction exactly once, whichever side of the checkpoint's end
// the kill fell.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-kill-checkpoint-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('a kill -9 during a COMMIT that checkpoints instead of writing the WAL loses nothing and applies nothing twice', {
  timeout: 180_000,
}, async (t) => {
  psql(c.info, 'CREATE TABLE docs (id int PRIMARY KEY, doc text)');
  const argv = args('kc.duckdb', '--tables', 'docs');
  const first = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  // The kill's delay after the COMMIT began is the fault timing: at once, inside, and near its end.
  const delays = [0, 120, 350];
  for (let round = 0; round < delays.length; round++) {
    // 1500 rows of 20 kB in one transaction: 30 MB, past DuckDB's 16 MiB checkpoint_threshold.
    psql(
      c.info,
      `INSERT INTO docs SELECT g, repeat(md5(g::text || ':${round}'), 640) FROM generate_series(${round * 1500 + 1}, ${round * 1500 + 1500}) g`,
    );
    const run = startWatched(argv, 'walduck:sink');
    await run.waitFor(/COMMIT checkpoints: the transaction appended about \d+ bytes/);
    await delay(delays[round]);
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const again = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(again.code, 0, again.stderr);
    // Which side of the checkpoint the kill fell: the transaction applied again, or found stored.
    t.diagnostic(`round ${round}: ${again.stderr.trim().split('\n').at(-1) ?? ''}`);
    await assertReplicaEquals(c.info, join(dir, 'kc.duckdb'), [{ schema: 'public', table: 'docs' }]);
  }
});
