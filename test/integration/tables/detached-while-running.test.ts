// A partition DETACHed while walduck runs in all-tables mode: the root is copied again without its
// rows, and the detached table is one of its own, whose changes this run leaves out. That used to be
// silent, and one created as a partition in that run (an oid past the start's) was taken by the next
// start for a table created since the recorded position, streamed from there: the rows it got while
// a partition were missing. Now one line says what happens to it, the table set records it, and it
// joins in that run, copied online (or the next start copies it, after a kill -9).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { caughtUp, copyDone, replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-detached-running-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const T = (table: string) => ({ schema: 'public', table });

it('a partition detached while walduck runs (all-tables mode) is said once, and copied online in that run', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE dp (id int, r int, v text, PRIMARY KEY (id, r)) PARTITION BY RANGE (r);
     CREATE TABLE dp_a PARTITION OF dp FOR VALUES FROM (0) TO (100);
     CREATE TABLE dp_b PARTITION OF dp FOR VALUES FROM (100) TO (200);
     INSERT INTO dp SELECT g, g % 200, 'start' FROM generate_series(1, 400) g;`,
  );
  const argv = args('dp.duckdb', '--copy-chunk-rows', '100');
  const first = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const run = startWatched(argv, 'walduck:replicate,walduck:sink');
  try {
    await run.waitFor(/streaming from slot/);
    // One partition made in this run, filled, committed to DuckDB as the root's rows.
    let from = run.text().length;
    psql(
      c.info,
      `CREATE TABLE dp_n PARTITION OF dp FOR VALUES FROM (200) TO (300);
       INSERT INTO dp SELECT g, 200 + g % 100, 'new part' FROM generate_series(1000, 1099) g;
       INSERT INTO dp VALUES (5000, 5, 'in a');`,
    );
    await run.waitFor(/committed \d+ change\(s\)/, from);
    from = run.text().length;
    psql(c.info, 'ALTER TABLE dp DETACH PARTITION dp_a');
    psql(c.info, 'ALTER TABLE dp DETACH PARTITION dp_n');
    psql(
      c.info,
      `INSERT INTO dp_a VALUES (6000, 6, 'after detach'); UPDATE dp_n SET v = 'after detach' WHERE id = 1000;
       INSERT INTO dp VALUES (7000, 150, 'in b');`,
    );
    await run.waitFor(
      (log) =>
        /partition public\.dp_a was detached from public\.dp: public\.dp_a is a table of its own now, whose rows came without WAL; its changes are left out until it is copied online, within about a second \(all-tables mode\)/.test(
          log,
        ) &&
        /partition public\.dp_n was detached from public\.dp: public\.dp_n is a table of its own now/.test(
          log,
        ),
      from,
    );
    await run.waitFor(/online copy of public\.dp: .*done/, from);
    // Each joins in this run, copied online (before, only the next start copied them).
    for (const name of ['dp_a', 'dp_n'])
      await run.waitFor(new RegExp(`online copy of public\\.${name}: .*done`), from);
    psql(c.info, `INSERT INTO dp_a VALUES (6001, 7, 'joined'); DELETE FROM dp_n WHERE id = 1001`);
    await caughtUp(run, c.info);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/partition public\.dp_a was detached from/g)?.length, 1);
  await assertReplicaEquals(c.info, join(dir, 'dp.duckdb'), [T('dp'), T('dp_a'), T('dp_n')]);
  // Nothing left for the next start to copy.
  const next = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(next.code, 0, next.stderr);
  assert.doesNotMatch(next.stderr, /joins the table set of an existing replica/);
  await assertReplicaEquals(c.info, join(dir, 'dp.duckdb'), [T('dp'), T('dp_a'), T('dp_n')]);
});

it('a partition made and detached while walduck ran, killed before it committed the DETACH: the next start copies the detached table', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE kp (id int, r int, v text, PRIMARY KEY (id, r)) PARTITION BY RANGE (r);
     CREATE TABLE kp_a PARTITION OF kp FOR VALUES FROM (0) TO (100);
     INSERT INTO kp SELECT g, g % 100, 'start' FROM generate_series(1, 100) g;`,
  );
  const argv = args('kp.duckdb', '--slot', 'kp_slot', '--copy-chunk-rows', '100');
  const first = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const run = startWatched(argv, 'walduck:replicate,walduck:sink');
  try {
    await run.waitFor(/streaming from slot/);
    const from = run.text().length;
    psql(
      c.info,
      `CREATE TABLE kp_n PARTITION OF kp FOR VALUES FROM (100) TO (200);
       INSERT INTO kp SELECT g, 100 + g % 100, 'new part' FROM generate_series(1000, 1049) g;`,
    );
    await run.waitFor(/committed \d+ change\(s\)/, from);
    // Paused, so no catalog check of this run sees the DETACH: only the next start finds it.
    run.child.kill('SIGSTOP');
    psql(c.info, "ALTER TABLE kp DETACH PARTITION kp_n; UPDATE kp_n SET v = 'after detach' WHERE id = 1000");
  } finally {
    run.child.kill('SIGKILL');
  }
  await run.done;
  const next = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(
    next.stderr,
    /table public\.kp_n joins the table set of an existing replica \(a partition of a followed table, detached since the replica's last commit .*\): it is copied online/,
  );
  await assertReplicaEquals(c.info, join(dir, 'kp.duckdb'), [T('kp'), T('kp_n')]);
});

it('a partition detached and renamed (archived) while walduck runs is copied online under its new name', {
  timeout: 120_000,
}, async () => {
  // The leaf was looked for by its old name: renamed, it was taken for dropped, and the change under
  // its new name made it a new table streamed from that change: 1 row of 11 in DuckDB, exit 0.
  psql(
    c.info,
    `CREATE TABLE ev (id int, r int, PRIMARY KEY (id, r)) PARTITION BY RANGE (r);
     CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM (0) TO (10);
     CREATE TABLE ev2 PARTITION OF ev FOR VALUES FROM (10) TO (20);
     CREATE TABLE ev3 PARTITION OF ev FOR VALUES FROM (20) TO (30);
     INSERT INTO ev SELECT g, g % 30 FROM generate_series(1, 30) g;`,
  );
  const argv = args('ev.duckdb', '--slot', 'ev_slot', '--copy-chunk-rows', '100');
  const first = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const run = startWatched(argv, 'walduck:replicate,walduck:sink');
  try {
    await run.waitFor(/streaming from slot/);
    const from = run.text().length;
    // One psql call: no catalog check between the DETACH, the rename and the change.
    psql(
      c.info,
      `ALTER TABLE ev DETACH PARTITION ev1; ALTER TABLE ev1 RENAME TO ev1_archive;
       INSERT INTO ev1_archive VALUES (100, 1)`,
    );
    await run.waitFor(copyDone('ev1_archive'), from);
    // Renamed once it joined: a followed table's rename (one during its copy stops in one line).
    psql(c.info, 'ALTER TABLE ev DETACH PARTITION ev3');
    await run.waitFor(copyDone('ev3'), from);
    psql(c.info, 'ALTER TABLE ev3 RENAME TO ev3_archive; INSERT INTO ev3_archive VALUES (200, 21)');
    await caughtUp(run, c.info);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(
    r.stderr,
    /new table public\.ev\d_archive at the source: replicating it from its first change/,
  );
  await assertReplicaEquals(c.info, join(dir, 'ev.duckdb'), [T('ev'), T('ev1_archive'), T('ev3_archive')]);
});
