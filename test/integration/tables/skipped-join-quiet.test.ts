// All-tables mode: a table walduck skipped for want of a key (created while it runs, or found so at
// start) that gets one while walduck runs joins in that run, copied online. Before, it joined only at
// its next change: with none coming, it stayed out of DuckDB until the next start, though the catalog
// check had found it replicable within a second. It now joins at the next commit, or at the next tick
// of a quiet stream, as a change of it would have made it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { copyDone, replicateArgs, runWalduck, startWatched, tableState } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-skipped-join-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

const state = (file: string, table: string) => tableState(join(dir, file), `public.${table}`);

describe('a skipped table given a key while walduck runs, with no change of it after', () => {
  it('joins and is copied online in that run, the stream quiet or not', { timeout: 120_000 }, async () => {
    psql(
      c.info,
      `CREATE TABLE q_seed (id int PRIMARY KEY); INSERT INTO q_seed VALUES (1);
       CREATE TABLE q_start (id int, v text); INSERT INTO q_start SELECT g, 's' FROM generate_series(1, 50) g;
       CREATE TABLE q_part (id int, v text) PARTITION BY RANGE (id);
       CREATE TABLE q_part_1 PARTITION OF q_part FOR VALUES FROM (0) TO (1000);
       INSERT INTO q_part SELECT g, 'p' FROM generate_series(1, 20) g`,
    );
    const run = startWatched(args('quiet.duckdb', '--slot', 'quiet'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE q_new (id int, v text); INSERT INTO q_new SELECT g, 'n' FROM generate_series(1, 30) g`,
      );
      await run.waitFor(/not replicating new table public\.q_new:/);
      // The keys, and not one change of these tables after them: the stream is quiet from here.
      psql(
        c.info,
        `ALTER TABLE q_new ADD PRIMARY KEY (id); ALTER TABLE q_start ADD PRIMARY KEY (id);
         ALTER TABLE q_part ADD PRIMARY KEY (id)`,
      );
      for (const name of ['q_new', 'q_start', 'q_part']) await run.waitFor(copyDone(name));
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    await assertReplicaEquals(c.info, join(dir, 'quiet.duckdb'), [
      t('q_new'),
      t('q_part'),
      t('q_seed'),
      t('q_start'),
    ]);
    for (const name of ['q_new', 'q_start', 'q_part'])
      assert.equal(await state('quiet.duckdb', name), 'streaming');

    // Busy with another table's changes, the join comes with a batch's commit instead.
    psql(
      c.info,
      `CREATE TABLE q_busy (id int, v text); INSERT INTO q_busy SELECT g, 'b' FROM generate_series(1, 40) g`,
    );
    const again = startWatched(args('quiet.duckdb', '--slot', 'quiet'), 'walduck:replicate,walduck:sink');
    try {
      // Created while walduck was stopped, without a key: the start skips it.
      await again.waitFor(/not replicating public\.q_busy: no primary key/);
      psql(c.info, 'ALTER TABLE q_busy ADD PRIMARY KEY (id)');
      let i = 2;
      const writes = setInterval(() => psql(c.info, `INSERT INTO q_seed VALUES (${i++})`), 50);
      try {
        await again.waitFor(copyDone('q_busy'));
      } finally {
        clearInterval(writes);
      }
    } finally {
      again.child.kill('SIGINT');
    }
    const second = await again.done;
    assert.equal(second.code, 0, second.stderr);
    // The restart has nothing of the first run's tables left to copy.
    assert.doesNotMatch(second.stderr, /re-copying public\.q_(new|start|part) /);
    const r = await runWalduck(args('quiet.duckdb', '--slot', 'quiet', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'quiet.duckdb'), [
      t('q_busy'),
      t('q_new'),
      t('q_part'),
      t('q_seed'),
      t('q_start'),
    ]);
    psql(c.info, 'DROP TABLE q_seed, q_start, q_part, q_new, q_busy');
  });

  it('a kill -9 once it joins loses nothing: the next start resumes or makes the copy', {
    timeout: 120_000,
  }, async () => {
    psql(c.info, 'CREATE TABLE k_seed (id int PRIMARY KEY); INSERT INTO k_seed VALUES (1)');
    const run = startWatched(args('kill.duckdb', '--slot', 'kill'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE k_new (id int, v text); INSERT INTO k_new SELECT g, 'n' FROM generate_series(1, 5000) g`,
      );
      await run.waitFor(/not replicating new table public\.k_new:/);
      psql(c.info, 'ALTER TABLE k_new ADD PRIMARY KEY (id)');
      await run.waitFor(/re-copying public\.k_new online/);
    } finally {
      run.child.kill('SIGKILL');
    }
    await run.done;
    psql(c.info, `INSERT INTO k_new VALUES (5001, 'x'); UPDATE k_new SET v = 'u' WHERE id = 7`);
    const r = await runWalduck(args('kill.duckdb', '--slot', 'kill', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'kill.duckdb'), [t('k_new'), t('k_seed')]);
    assert.equal(await state('kill.duckdb', 'k_new'), 'streaming');
    psql(c.info, 'DROP TABLE k_seed, k_new');
  });
});
