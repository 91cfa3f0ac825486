// A resume sends START_REPLICATION before DuckDB is open, at the slot's confirmed position
// (src/replicator/early-start.ts), and keeps that stream only when the file resumes at exactly that
// position. A file ahead of its slot (walduck killed between DuckDB's commit and the acknowledgement)
// must resume at the file's position: a stream kept from the slot's would apply the transactions in
// between a second time, which a table without a key shows as doubled rows.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { restartCluster } from '../../helpers/faults.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-early-start-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const TABLES = [{ schema: 'public', table: 'k' }];
const EARLY = /started slot e_slot at \S+ while DuckDB opens/;

it('a resume streams from the slot before DuckDB opens, and not when the file is ahead of the slot', {
  timeout: 120_000,
}, async () => {
  psql(c.info, `CREATE TABLE k (v int, t text); ALTER TABLE k REPLICA IDENTITY FULL;`);
  const argv = args('e.duckdb', '--slot', 'e_slot', '--tables', 'k', '--until-caught-up');
  const env = { DEBUG: 'walduck:replicate' };
  const first = await runWalduck(argv, env);
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, EARLY, 'a new file has no position to resume');

  psql(c.info, `INSERT INTO k SELECT g, 'a' FROM generate_series(1, 50) g`);
  const resumed = await runWalduck(argv, env);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, EARLY);
  await assertReplicaEquals(c.info, join(dir, 'e.duckdb'), TABLES);

  // The slot as it is now, kept aside; the file then moves past it.
  psql(c.info, `SELECT pg_copy_logical_replication_slot('e_slot', 'e_behind')`);
  psql(
    c.info,
    `INSERT INTO k SELECT g, 'b' FROM generate_series(1, 30) g; UPDATE k SET t = 'c' WHERE v <= 10`,
  );
  const ahead = await runWalduck(argv, env);
  assert.equal(ahead.code, 0, ahead.stderr);
  // The slot goes back to where it was: what a kill between the commit and the acknowledgement leaves.
  psql(
    c.info,
    `SELECT pg_drop_replication_slot('e_slot'); SELECT pg_copy_logical_replication_slot('e_behind', 'e_slot'); SELECT pg_drop_replication_slot('e_behind')`,
  );
  psql(c.info, `INSERT INTO k SELECT g, 'd' FROM generate_series(1, 20) g; DELETE FROM k WHERE v = 5`);
  const behind = await runWalduck(argv, env);
  assert.equal(behind.code, 0, behind.stderr);
  assert.match(behind.stderr, EARLY, 'the stream was started early, then given up');
  await assertReplicaEquals(c.info, join(dir, 'e.duckdb'), TABLES);
});

it('with one walsender allowed, the early stream gives way to the preflight without a reconnect', {
  timeout: 120_000,
}, async () => {
  psql(c.info, `CREATE TABLE w (id int PRIMARY KEY, v text)`);
  const argv = args('w.duckdb', '--slot', 'w_slot', '--tables', 'w', '--until-caught-up');
  const env = { DEBUG: 'walduck:replicate' };
  assert.equal((await runWalduck(argv, env)).code, 0);
  psql(c.info, `ALTER SYSTEM SET max_wal_senders = 1`);
  restartCluster(c.info, 'fast');
  try {
    psql(c.info, `INSERT INTO w SELECT g, 'x' FROM generate_series(1, 10) g`);
    const r = await runWalduck(argv, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no early start: .*53300/);
    assert.doesNotMatch(r.stderr, /reconnecting/);
    await assertReplicaEquals(c.info, join(dir, 'w.duckdb'), [{ schema: 'public', table: 'w' }]);
  } finally {
    psql(c.info, `ALTER SYSTEM RESET max_wal_senders`);
    restartCluster(c.info, 'fast');
  }
});
