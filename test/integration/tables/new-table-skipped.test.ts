// All-tables mode: a table created while walduck runs that cannot be replicated (no primary key, no
// REPLICA IDENTITY FULL) is skipped, and its rows go past with the slot. Before, once it had a key:
// still dropped for the rest of the run, and after a restart taken for a table new since the last
// run (all its rows in WAL after the recorded position), so `walduck status` said streaming and
// DuckDB lacked every row from before the restart, exit 0. The table set now records it as skipped
// in the next DuckDB commit, and the next start copies it online once it has a key (or refuses in one
// line when it cannot be copied in key chunks). A table skipped at start (not new) takes the same way:
// given a key while walduck runs, it joins at its next change and is copied online in that run.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import {
  caughtUp as caughtUpTo,
  replicateArgs,
  runWalduck,
  startWatched,
  tableState,
  type WatchedRun,
} from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-new-skipped-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

const caughtUp = (run: WatchedRun) => caughtUpTo(run, c.info);

const state = (file: string, table: string) => tableState(join(dir, file), `public.${table}`);

describe('a new table skipped for want of a key (all-tables mode)', () => {
  it('gets a key while walduck is stopped: recorded as skipped, then copied online at the next start', {
    timeout: 120_000,
  }, async () => {
    psql(c.info, 'CREATE TABLE seed (id int PRIMARY KEY); INSERT INTO seed VALUES (1)');
    const run = startWatched(args('pk.duckdb', '--slot', 'pk'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE late (id int, v text); INSERT INTO late SELECT g, 'v' FROM generate_series(1, 10) g`,
      );
      await run.waitFor(/not replicating new table public\.late:/);
      psql(c.info, 'INSERT INTO seed VALUES (2)');
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    // Never "streaming" with rows missing: skipped, until a start copies it.
    assert.equal(await state('pk.duckdb', 'late'), 'skipped');
    psql(c.info, `ALTER TABLE late ADD PRIMARY KEY (id); INSERT INTO late VALUES (11, 'x')`);
    const r = await runWalduck(args('pk.duckdb', '--slot', 'pk', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /table public\.late joins the table set of an existing replica \(recorded as skipped\)/,
    );
    await assertReplicaEquals(c.info, join(dir, 'pk.duckdb'), [t('late'), t('seed')]);
    assert.equal(await state('pk.duckdb', 'late'), 'streaming');
    psql(c.info, 'DROP TABLE late; DROP TABLE seed');
  });

  it('gets a key while walduck runs: copied online in that run', { timeout: 120_000 }, async () => {
    psql(c.info, 'CREATE TABLE seed_live (id int PRIMARY KEY); INSERT INTO seed_live VALUES (1)');
    const run = startWatched(args('live.duckdb', '--slot', 'live'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE late_live (id int, v text); INSERT INTO late_live SELECT g, 'v' FROM generate_series(1, 10) g`,
      );
      await run.waitFor(/not replicating new table public\.late_live:/);
      psql(c.info, "UPDATE late_live SET v = 'u' WHERE id = 2");
      psql(c.info, `ALTER TABLE late_live ADD PRIMARY KEY (id); INSERT INTO late_live VALUES (11, 'x')`);
      // Seen by the catalog check, it joins at the next commit (or this change makes it join first).
      await run.waitFor(/new table public\.late_live, skipped earlier in this run, can be replicated now/);
      psql(c.info, `INSERT INTO late_live VALUES (12, 'y')`);
      await run.waitFor(/re-copying public\.late_live online/);
      await run.waitFor(
        /online copy of public\.late_live: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/,
      );
      psql(c.info, `INSERT INTO late_live VALUES (13, 'z'); DELETE FROM late_live WHERE id = 5`);
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    await assertReplicaEquals(c.info, join(dir, 'live.duckdb'), [t('late_live'), t('seed_live')]);
    assert.equal(await state('live.duckdb', 'late_live'), 'streaming');
    // A restart has nothing left to copy.
    const r = await runWalduck(args('live.duckdb', '--slot', 'live', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /late_live joins the table set/);
    await assertReplicaEquals(c.info, join(dir, 'live.duckdb'), [t('late_live'), t('seed_live')]);
    psql(c.info, 'DROP TABLE late_live; DROP TABLE seed_live');
  });

  it('renamed while skipped, then given a key: copied online under its new name, running or stopped', {
    timeout: 120_000,
  }, async () => {
    // Its oid, not its name, says it was skipped: under the new name it looked like a table new
    // since (all its rows in WAL), and DuckDB lacked the rows from before, exit 0 (12 rows against 2).
    psql(c.info, 'CREATE TABLE seed_ren (id int PRIMARY KEY); INSERT INTO seed_ren VALUES (1)');
    const run = startWatched(args('ren.duckdb', '--slot', 'ren'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE ren_run (id int, v text); INSERT INTO ren_run SELECT g, 'v' FROM generate_series(1, 10) g;
         CREATE TABLE ren_stop (id int, v text); INSERT INTO ren_stop SELECT g, 'v' FROM generate_series(1, 10) g`,
      );
      await run.waitFor(/not replicating new table public\.ren_stop:/);
      psql(
        c.info,
        `ALTER TABLE ren_run RENAME TO ren_run2; ALTER TABLE ren_run2 ADD PRIMARY KEY (id);
         INSERT INTO ren_run2 VALUES (11, 'x'); INSERT INTO seed_ren VALUES (2)`,
      );
      await run.waitFor(/re-copying public\.ren_run2 online/);
      await run.waitFor(/online copy of public\.ren_run2: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    // The record of its skip went when it joined: no table of the old name is listed.
    assert.equal(await state('ren.duckdb', 'ren_run2'), 'streaming');
    assert.equal(await state('ren.duckdb', 'ren_run'), undefined);
    psql(
      c.info,
      `ALTER TABLE ren_stop RENAME TO ren_stop2; ALTER TABLE ren_stop2 ADD PRIMARY KEY (id);
       INSERT INTO ren_stop2 VALUES (11, 'x'); UPDATE ren_stop2 SET v = 'u' WHERE id = 3`,
    );
    const r = await runWalduck(args('ren.duckdb', '--slot', 'ren', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /table public\.ren_stop2 joins the table set of an existing replica \(skipped as public\.ren_stop when created while walduck ran, renamed since\)/,
    );
    assert.doesNotMatch(r.stderr, /ren_run2 joins the table set/);
    await assertReplicaEquals(c.info, join(dir, 'ren.duckdb'), [
      t('ren_run2'),
      t('ren_stop2'),
      t('seed_ren'),
    ]);
    assert.equal(await state('ren.duckdb', 'ren_stop2'), 'streaming');
    assert.equal(await state('ren.duckdb', 'ren_stop'), undefined);
    psql(c.info, 'DROP TABLE ren_run2; DROP TABLE ren_stop2; DROP TABLE seed_ren');
  });

  it('made REPLICA IDENTITY FULL (no key to copy by): the next start refuses in one line', {
    timeout: 120_000,
  }, async () => {
    psql(c.info, 'CREATE TABLE seed_full (id int PRIMARY KEY); INSERT INTO seed_full VALUES (1)');
    const run = startWatched(args('full.duckdb', '--slot', 'full'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE late_full (id int, v text); INSERT INTO late_full SELECT g, 'v' FROM generate_series(1, 10) g`,
      );
      await run.waitFor(/not replicating new table public\.late_full/);
      psql(
        c.info,
        `ALTER TABLE late_full REPLICA IDENTITY FULL; INSERT INTO late_full VALUES (11, 'x'); INSERT INTO seed_full VALUES (2)`,
      );
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    const r = await runWalduck(args('full.duckdb', '--slot', 'full', '--until-caught-up'));
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /WALDUCK_TABLE_ADDED|joins the table set of an existing replica \(recorded as skipped\), but/,
    );
    assert.match(r.stderr, /no primary key \(REPLICA IDENTITY FULL\)/);
    assert.notEqual(await state('full.duckdb', 'late_full'), 'streaming');
    psql(c.info, 'DROP TABLE late_full; DROP TABLE seed_full');
  });

  it('skipped at start, given a key while walduck runs (copied online in that run) or while it is stopped (at the next start)', {
    timeout: 120_000,
  }, async () => {
    // Before, one given a key while walduck ran was ignored for the rest of the run, and only the next
    // start copied it: DuckDB lacked it (and every change since) until a restart, though the catalog
    // check looked at new tables skipped in the run once a second.
    psql(
      c.info,
      `CREATE TABLE seed_start (id int PRIMARY KEY); INSERT INTO seed_start VALUES (1);
       CREATE TABLE s_run (id int, v text); INSERT INTO s_run SELECT g, 'v' FROM generate_series(1, 10) g;
       CREATE TABLE s_stop (id int, v text); INSERT INTO s_stop SELECT g, 'v' FROM generate_series(1, 10) g;
       CREATE TABLE s_never (id int, v text); INSERT INTO s_never SELECT g, 'v' FROM generate_series(1, 10) g;
       CREATE TABLE s_part (id int, v text) PARTITION BY RANGE (id);
       CREATE TABLE s_part_1 PARTITION OF s_part FOR VALUES FROM (0) TO (100);
       INSERT INTO s_part SELECT g, 'v' FROM generate_series(1, 10) g`,
    );
    const run = startWatched(args('start.duckdb', '--slot', 'start'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      const skipped = /not replicating ([^\n]*): no primary key/.exec(run.text())?.[1]?.split(', ');
      assert.deepEqual(skipped?.sort(), ['public.s_never', 'public.s_part', 'public.s_run', 'public.s_stop']);
      // A partitioned one's changes come under its leaf's name.
      psql(
        c.info,
        `INSERT INTO s_run VALUES (11, 'x'); INSERT INTO s_never VALUES (11, 'x'); INSERT INTO s_part VALUES (11, 'x');
         ALTER TABLE s_run ADD PRIMARY KEY (id); ALTER TABLE s_part ADD PRIMARY KEY (id)`,
      );
      for (const name of ['s_run', 's_part'])
        await run.waitFor(
          new RegExp(
            `table public\\.${name}, skipped at start, can be replicated now: it joins at the next commit`,
          ),
        );
      psql(
        c.info,
        `INSERT INTO s_run VALUES (12, 'y'); UPDATE s_run SET v = 'u' WHERE id = 3;
         INSERT INTO s_part VALUES (12, 'y'); UPDATE s_part SET v = 'u' WHERE id = 3`,
      );
      for (const name of ['s_run', 's_part']) {
        await run.waitFor(new RegExp(`re-copying public\\.${name} online`));
        await run.waitFor(
          new RegExp(
            `online copy of public\\.${name}: chunk \\d+ wrote \\d+ row\\(s\\) \\(\\d+ in all\\), done`,
          ),
        );
      }
      psql(
        c.info,
        `INSERT INTO s_run VALUES (13, 'z'); DELETE FROM s_run WHERE id = 5; DELETE FROM s_part WHERE id = 6;
         INSERT INTO s_stop VALUES (11, 'x'); INSERT INTO s_never VALUES (12, 'y'); INSERT INTO seed_start VALUES (2)`,
      );
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    // Copied in that run: equal to the source before any restart.
    await assertReplicaEquals(c.info, join(dir, 'start.duckdb'), [t('s_part'), t('s_run'), t('seed_start')]);
    assert.equal(await state('start.duckdb', 's_run'), 'streaming');
    assert.equal(await state('start.duckdb', 's_part'), 'streaming');
    // The UPDATE in the joining transaction is the copy's (dropped by its merge), not applied to the
    // empty DuckDB table: before, it matched no row there, and a warning said to remove the file.
    assert.doesNotMatch(first.stderr, /no longer equals the source|unmatched in DuckDB/);
    // Never given a key: still skipped, never joined.
    assert.doesNotMatch(first.stderr, /s_never, skipped at start, can be replicated now/);
    psql(c.info, `ALTER TABLE s_stop ADD PRIMARY KEY (id); INSERT INTO s_stop VALUES (12, 'y')`);
    const r = await runWalduck(args('start.duckdb', '--slot', 'start', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /table public\.s_stop joins the table set of an existing replica/);
    // Copied once, in the first run: nothing to copy again.
    assert.doesNotMatch(r.stderr, /s_run joins the table set/);
    assert.doesNotMatch(r.stderr, /re-copying public\.s_(run|part)/);
    assert.doesNotMatch(r.stderr, /s_part joins the table set/);
    assert.match(r.stderr, /not replicating public\.s_never: no primary key/);
    await assertReplicaEquals(c.info, join(dir, 'start.duckdb'), [
      t('s_part'),
      t('s_run'),
      t('s_stop'),
      t('seed_start'),
    ]);
    assert.equal(await state('start.duckdb', 's_never'), 'skipped'); // recorded: the slot passes its rows
    psql(
      c.info,
      'DROP TABLE s_run; DROP TABLE s_stop; DROP TABLE s_never; DROP TABLE s_part; DROP TABLE seed_start',
    );
  });

  it('followed before, its key dropped while walduck is stopped: a key given while it runs waits for the next start', {
    timeout: 120_000,
  }, async () => {
    // Its record is stopped and its DuckDB table kept as it was: the next start decides on it (copied
    // again, named in one line), not a join in the middle of a run.
    psql(
      c.info,
      `CREATE TABLE st (id int PRIMARY KEY, v text); INSERT INTO st SELECT g, 'v' FROM generate_series(1, 10) g;
       CREATE TABLE st_seed (id int PRIMARY KEY); INSERT INTO st_seed VALUES (1)`,
    );
    const init = await runWalduck(args('stp.duckdb', '--slot', 'stp', '--until-caught-up'));
    assert.equal(init.code, 0, init.stderr);
    psql(
      c.info,
      `ALTER TABLE st DROP CONSTRAINT st_pkey; INSERT INTO st VALUES (11, 'x');
       CREATE TABLE st_other (id int, v text); INSERT INTO st_other VALUES (1, 'v')`,
    );
    const run = startWatched(args('stp.duckdb', '--slot', 'stp'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      assert.match(run.text(), /public\.st is no longer in the table set/);
      // One psql call, one transaction: the check that finds st_other's key sees st's too.
      psql(c.info, 'ALTER TABLE st ADD PRIMARY KEY (id); ALTER TABLE st_other ADD PRIMARY KEY (id)');
      await run.waitFor(/table public\.st_other, skipped at start, can be replicated now/);
      psql(
        c.info,
        `INSERT INTO st VALUES (12, 'y'); INSERT INTO st_other VALUES (2, 'w'); INSERT INTO st_seed VALUES (2)`,
      );
      await run.waitFor(/online copy of public\.st_other: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /public\.st, skipped at start/);
    assert.equal(await state('stp.duckdb', 'st'), 'stopped');
    await assertReplicaEquals(c.info, join(dir, 'stp.duckdb'), [t('st_other'), t('st_seed')]);
    const r = await runWalduck(args('stp.duckdb', '--slot', 'stp', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /table public\.st joins the table set of an existing replica \(recorded as stopped\)/,
    );
    await assertReplicaEquals(c.info, join(dir, 'stp.duckdb'), [t('st'), t('st_other'), t('st_seed')]);
    psql(c.info, 'DROP TABLE st; DROP TABLE st_other; DROP TABLE st_seed');
  });
  it('skipped at start, dropped and created again without a key while walduck runs, keyed while stopped: copied at the next start', {
    timeout: 120_000,
  }, async () => {
    // No record named it: the table created again looked new since the last run at the next start
    // (all its rows in WAL) and was not copied, exit 0 (11 rows against 1).
    psql(
      c.info,
      `CREATE TABLE seed_again (id int PRIMARY KEY); INSERT INTO seed_again VALUES (1);
       CREATE TABLE again (id int, v text); INSERT INTO again VALUES (1, 'old')`,
    );
    const run = startWatched(args('again.duckdb', '--slot', 'again'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `DROP TABLE again; CREATE TABLE again (id int, v text);
         INSERT INTO again SELECT g, 'v' FROM generate_series(1, 10) g; INSERT INTO seed_again VALUES (2)`,
      );
      await caughtUp(run);
    } finally {
      run.child.kill('SIGINT');
    }
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await state('again.duckdb', 'again'), 'skipped');
    psql(c.info, `ALTER TABLE again ADD PRIMARY KEY (id); INSERT INTO again VALUES (11, 'x')`);
    const r = await runWalduck(args('again.duckdb', '--slot', 'again', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'again.duckdb'), [t('again'), t('seed_again')]);
    psql(c.info, 'DROP TABLE again; DROP TABLE seed_again');
  });
});
