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
import { replicateArgs, runWalduck, startWatched, type WatchedRun } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-recreated-copy-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

/**
 * Tables `a` and `b` (20000 rows) of schema `s`: a replica of `a`, then a run adding `b` (with
 * `extra` options), whose online copy has written its first chunk of 300 when `recreate` runs; that
 * run is stopped once the copy is done, the next catches up, and the replica must equal the source.
 */
async function recreatedWhileCopying(
  s: string,
  recreate: (run: WatchedRun) => Promise<void>,
  extra: readonly string[] = [],
) {
  psql(
    c.info,
    `CREATE SCHEMA ${s};
     CREATE TABLE ${s}.a (id int PRIMARY KEY, v text); INSERT INTO ${s}.a VALUES (1, 'a');
     CREATE TABLE ${s}.b (id int PRIMARY KEY, note text, n int);
     INSERT INTO ${s}.b SELECT g, 'n' || g, g FROM generate_series(1, 20000) g;`,
  );
  const file = `${s}.duckdb`;
  const first = await runWalduck([...args(file, '--tables', `${s}.a`), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const argv = [...args(file, '--tables', `${s}.a,${s}.b`, '--copy-chunk-rows', '300'), ...extra];
  const run = startWatched(argv, 'walduck:*');
  await run.waitFor(new RegExp(`online copy of ${s}\\.b: chunk 1 wrote`));
  await recreate(run);
  await run.waitFor(
    new RegExp(`online copy of ${s}\\.b: chunk \\d+ wrote \\d+ row\\(s\\) \\(\\d+ in all\\), done`),
  );
  run.child.kill('SIGINT');
  const done = await run.done;
  assert.equal(done.code, 0, done.stderr);
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [
    { schema: s, table: 'a' },
    { schema: s, table: 'b' },
  ]);
}

it('a table dropped and created in another shape while its online copy runs is copied with its new shape', {
  timeout: 180_000,
}, async () => {
  await recreatedWhileCopying('rc', async () => {
    // The lock holds the copier's next chunk until the new table is there (20000 rows in chunks of
    // 300: the copy is still running either way).
    psql(
      c.info,
      `BEGIN; LOCK TABLE rc.b IN ACCESS EXCLUSIVE MODE; DROP TABLE rc.b;
       CREATE TABLE rc.b (id bigint PRIMARY KEY, w text);
       INSERT INTO rc.b SELECT g, 'w' || g FROM generate_series(1, 2000) g; COMMIT;`,
    );
    psql(c.info, "INSERT INTO rc.b VALUES (100000, 'after'); INSERT INTO rc.a VALUES (2, 'b')");
  });
});

// Dropped, seen dropped by the catalog check, then created again EMPTY in another shape: no change of
// the new table reaches the stream, so only the catalog check can tell. Reported as walduck exiting 1
// after MAX_RETRIES failed chunk SELECTs; not reproduced this way (nor with DROP and CREATE in one
// transaction): kept so that it stays so.
it('a table dropped and created again empty while its online copy runs is copied as the new, empty table', {
  timeout: 180_000,
}, async () => {
  await recreatedWhileCopying('re', async (run) => {
    const from = run.text().length;
    psql(c.info, 'DROP TABLE re.b');
    await run.waitFor(/table re\.b was dropped at the source/, from);
    psql(c.info, "CREATE TABLE re.b (id bigint PRIMARY KEY, w text); INSERT INTO re.a VALUES (2, 'b')");
  });
});

// The same race without a drop, made certain: a change of the copied table that DuckDB cannot follow
// in place (a narrowing), seen in the stream while the copy runs, under --on-type-change recopy. The
// copy must start over with the new schema; it stopped with the refusal (exit 1), as the first case
// did when the stream's first row of the new table came before the catalog check saw the drop.
it('a narrowing type change while its online copy runs starts the copy over with the new schema (--on-type-change recopy)', {
  timeout: 180_000,
}, async () => {
  await recreatedWhileCopying(
    'rn',
    async (run) => {
      const from = run.text().length;
      psql(
        c.info,
        "ALTER TABLE rn.b ALTER COLUMN note TYPE varchar(10); INSERT INTO rn.b VALUES (100000, 'after', 1)",
      );
      await run.waitFor(
        /rn\.b: column note changed type .* re-copying rn\.b online with its new schema/,
        from,
      );
    },
    ['--on-type-change', 'recopy'],
  );
});

// A schema change DuckDB follows in place (ADD COLUMN, DROP COLUMN), of the table whose online copy
// is past its first chunk: the copy's later chunks read the columns it began with. Before, an added
// column was filled for the rows copied so far and NULL in every row copied after it (exit 0, verify
// DIFFERENT), and a dropped one failed every chunk's SELECT with ERROR 42703 until walduck exited 1,
// at every start again. The copy must start over with the new schema. The lock holds the copier's
// next chunk until the change is committed, so the copy is certainly still running when the stream
// brings it.
for (const [s, ddl] of [
  ['ra', 'ALTER TABLE ra.b ADD COLUMN m int DEFAULT 5'],
  ['rd', 'ALTER TABLE rd.b DROP COLUMN n'],
] as const) {
  it(`${ddl.replace(/ \w+\.b/, '')} while its online copy runs starts the copy over with the new schema`, {
    timeout: 180_000,
  }, async () => {
    await recreatedWhileCopying(s, async () => {
      psql(
        c.info,
        `BEGIN; LOCK TABLE ${s}.b IN ACCESS EXCLUSIVE MODE; ${ddl};
         INSERT INTO ${s}.b (id, note) VALUES (100000, 'after'); COMMIT;`,
      );
    });
  });
}
