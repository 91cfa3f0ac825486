// DROP TABLE at the source writes no change to WAL: walduck finds it by oid in its once-a-second
// catalog check, and stops following the table (its DuckDB table left, state stopped; --drop-removed
// drops it at the next start). A rename is followed in place (rename-follow.test.ts); here, one made
// while walduck was stopped in all-tables mode.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { replicateArgs, runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-');

const t = (table: string) => ({ schema: 'public', table });
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

async function status(file: string): Promise<Record<string, unknown>[]> {
  return await statusJson(join(dir, file));
}

/** Starts walduck and resolves once it streams; `seen(text)` then resolves when stderr holds text. */
async function start(argv: readonly string[]) {
  const run = startWatched(argv, 'walduck:replicate');
  const seen = (text: string) => run.waitFor((log) => log.includes(text));
  await seen('streaming from slot');
  return { run, seen };
}

describe('RENAME TABLE and DROP TABLE at the source', () => {
  it('DROP TABLE while running: its changes before the drop are applied, then it is stopped (one line); --drop-removed drops it at the next start', {
    timeout: 120_000,
  }, async () => {
    psql(
      c.info,
      `CREATE TABLE dx (id int PRIMARY KEY); CREATE TABLE dy (id int PRIMARY KEY, v text);
       INSERT INTO dx SELECT generate_series(1, 10); INSERT INTO dy SELECT g, 'y' || g FROM generate_series(1, 10) g;`,
    );
    const argv = args('drop.duckdb', '--slot', 'drop_slot', '--tables', 'dx,dy');
    const { run, seen } = await start(argv);
    // Rows written right before the drop are in WAL before it: they must reach DuckDB.
    psql(c.info, `INSERT INTO dy SELECT g, 'late' FROM generate_series(11, 20) g; DROP TABLE dy;`);
    await seen('table public.dy was dropped at the source');
    // Still running, still following the others.
    psql(c.info, 'INSERT INTO dx SELECT generate_series(11, 20)');
    run.child.kill('SIGINT');
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr.split('\n').filter((l) => l.includes('public.dy was dropped')).length, 1);
    assert.deepEqual(await duckQuery(join(dir, 'drop.duckdb'), 'SELECT count(*)::INT FROM dy'), [[20]]);
    const s = await status('drop.duckdb');
    assert.deepEqual(
      s.map((x) => [x.table, x.state]),
      [
        ['public.dx', 'streaming'],
        ['public.dy', 'stopped'],
      ],
    );
    let r = await runWalduck([
      ...args('drop.duckdb', '--slot', 'drop_slot', '--tables', 'dx'),
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'drop.duckdb'), [t('dx')]);
    assert.deepEqual(await duckQuery(join(dir, 'drop.duckdb'), 'SELECT count(*)::INT FROM dy'), [[20]]);
    r = await runWalduck([
      ...args('drop.duckdb', '--slot', 'drop_slot', '--tables', 'dx'),
      '--until-caught-up',
      '--drop-removed',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.dy is no longer in the table set: --drop-removed dropped its DuckDB table/,
    );
    assert.deepEqual(
      await duckQuery(
        join(dir, 'drop.duckdb'),
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
      ),
      [['dx']],
    );
  });

  it('all tables: a table renamed while walduck is stopped is not taken for a new one; it is renamed in place where the stream reaches the rename', {
    timeout: 120_000,
  }, async () => {
    const info = c.info;
    psql(
      info,
      `CREATE TABLE sa (id int PRIMARY KEY, v text);
       INSERT INTO sa SELECT g, 'a' || g FROM generate_series(1, 10) g;`,
    );
    const argv = [
      'replicate',
      '--source',
      conninfo(info, 'scram-sha-256'),
      '--duckdb',
      join(dir, 'stopped.duckdb'),
      '--batch-ms',
      '50',
      '--slot',
      'stopped_slot',
      '--until-caught-up',
    ];
    let r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    psql(
      info,
      `INSERT INTO sa VALUES (11, 'before');
       ALTER TABLE sa RENAME TO sb;
       INSERT INTO sb VALUES (12, 'after'); UPDATE sb SET v = 'changed' WHERE id = 1;`,
    );
    r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /public\.sa: RENAME TABLE to public\.sb applied at LSN/);
    assert.doesNotMatch(r.stderr, /copied online|online copy/);
    await assertReplicaEquals(info, join(dir, 'stopped.duckdb'), [t('sb')]);
    assert.deepEqual(
      (await status('stopped.duckdb'))
        .filter((x) => String(x.table).startsWith('public.s'))
        .map((x) => [x.table, x.state]),
      [['public.sb', 'streaming']],
    );
  });
});
