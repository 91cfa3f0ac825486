// ALTER TABLE a RENAME TO b (and SET SCHEMA) at the source is followed in place, at its position in
// the stream: rows written before it carry the old name, after it the new one, and the DuckDB table,
// its recorded schema and its table-set entry take the new name in the DuckDB transaction that holds
// the changes after it, with one line. Every check compares DuckDB with PostgreSQL row for row, by
// column name, under the table's name now.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql, psqlArgs } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-follow-');

const pub = (table: string) => ({ schema: 'public', table });
const args = (file: string, slot: string, tables: string | undefined, ...extra: string[]) => [
  'replicate',
  '--source',
  conninfo(c.info, 'scram-sha-256'),
  '--duckdb',
  join(dir, file),
  '--slot',
  slot,
  '--batch-ms',
  '20',
  ...(tables === undefined ? [] : ['--tables', tables]),
  ...extra,
];

async function status(file: string): Promise<[unknown, unknown][]> {
  return (await statusJson(join(dir, file))).map((x) => [x.table, x.state]);
}

/** Starts walduck and resolves once it streams; `seen(text)` then resolves when stderr holds text. */
async function start(argv: readonly string[]) {
  const run = startWatched(argv, 'walduck:replicate');
  const seen = (text: string) => run.waitFor((log) => log.includes(text));
  await seen('streaming from slot');
  return { run, seen };
}

/** `stopOnError` false for the writers: a statement racing a rename may fail, the rest goes on. */
function runScript(sql: string, stopOnError = true): Promise<number | null> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.sql`);
  writeFileSync(file, sql);
  const p = spawn(
    'psql',
    [...psqlArgs(c.info), '-q', '-v', `ON_ERROR_STOP=${stopOnError ? 1 : 0}`, '-f', file],
    {
      stdio: 'ignore',
    },
  );
  return new Promise((resolve) => p.on('close', resolve));
}

/**
 * Inserts and updates, each its own transaction, on whatever the table is called at the moment:
 * a DO block finds it by oid, so the writer runs straight through the renames.
 */
function writerScript(oid: string, base: number, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = base + (i % 30);
    lines.push(
      `DO $$ BEGIN EXECUTE format('INSERT INTO %s (id, v) VALUES (${id}, ''w${i}'') ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, n = %s.n + 1', ${oid}::regclass, ${oid}::regclass); END $$;`,
    );
  }
  return lines.join('\n');
}

function createTable(t: string, schema = 'public'): string {
  psql(
    c.info,
    `CREATE TABLE ${schema}.${t} (id int PRIMARY KEY, v text, n int DEFAULT 0);
     INSERT INTO ${schema}.${t} SELECT g, 'a' || g, 0 FROM generate_series(1, 20) g;`,
  );
  return psql(c.info, `SELECT '${schema}.${t}'::regclass::oid`).trim();
}

const renameLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('RENAME TABLE to'));

/**
 * Swaps `t` (t to t_old, t_new to t), commits a row of the new t, then runs `later` (DDL and rows of
 * t_old), each statement its own transaction, in one script: the catalog check (once a second) then
 * usually sees the swap only after `later`. The new t's row must not reach t_old. Once walduck
 * applied the rename, `after` runs; DuckDB is then compared with the source. Returns walduck's stderr.
 */
async function swapThen(t: string, later: string, after: string): Promise<string> {
  createTable(t);
  psql(
    c.info,
    `CREATE TABLE ${t}_new (id int PRIMARY KEY, v text, n int DEFAULT 0); INSERT INTO ${t}_new VALUES (1001, 'new', 0)`,
  );
  const file = `swap-${t}.duckdb`;
  const slot = `swap_${t}_slot`;
  const { run, seen } = await start(args(file, slot, t));
  await runScript(
    `BEGIN; ALTER TABLE ${t} RENAME TO ${t}_old; ALTER TABLE ${t}_new RENAME TO ${t}; COMMIT;
     INSERT INTO ${t} VALUES (1060, 'new table, between');
     ${later}`,
  );
  await seen(`public.${t}: RENAME TABLE to public.${t}_old applied at LSN`);
  psql(c.info, after);
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const done = await runWalduck([...args(file, slot, `${t}_old`), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [pub(`${t}_old`)]);
  assert.deepEqual(await status(file), [[`public.${t}_old`, 'streaming']]);
  return r.stderr;
}

describe('RENAME TABLE followed in place', () => {
  for (const format of ['2', '1']) {
    it(`under a running writer, with changes before and after it in one transaction (format-version ${format})`, {
      timeout: 180_000,
    }, async () => {
      const a = `fa_v${format}`;
      const b = `fb_v${format}`;
      const oid = createTable(a);
      const file = `follow${format}.duckdb`;
      const slot = `follow_slot${format}`;
      const { run, seen } = await start(args(file, slot, a, '--format-version', format));
      const writer = runScript(writerScript(oid, 100, 300), false);
      assert.equal(
        await runScript(
          `INSERT INTO ${a} VALUES (51, 'before');
           UPDATE ${a} SET v = 'updated before' WHERE id = 1;
           BEGIN;
           INSERT INTO ${a} VALUES (52, 'same tx before');
           UPDATE ${a} SET v = 'same tx before' WHERE id = 2;
           ALTER TABLE ${a} RENAME TO ${b};
           INSERT INTO ${b} VALUES (53, 'same tx after');
           UPDATE ${b} SET v = 'same tx after' WHERE id = 3;
           DELETE FROM ${b} WHERE id = 4;
           COMMIT;
           INSERT INTO ${b} VALUES (54, 'after');
           UPDATE ${b} SET v = 'updated after' WHERE id = 5;`,
        ),
        0,
      );
      assert.equal(await writer, 0, 'writer failed');
      await seen(`public.${a}: RENAME TABLE to public.${b} applied at LSN`);
      // A marker after everything: once it is in DuckDB, so is all the above.
      psql(c.info, `INSERT INTO ${b} VALUES (999, 'marker')`);
      const marker = async () =>
        (await duckQuery(join(dir, file), `SELECT count(*)::INT FROM ${b} WHERE id = 999`).catch(() => [
          [0],
        ])) as number[][];
      run.child.kill('SIGINT');
      const first = await run.done;
      assert.equal(first.code, 0, first.stderr);
      assert.equal(renameLines(first.stderr).length, 1, first.stderr);
      // Whatever the first run did not reach, a restart under the new name does, with no copy.
      const again = await runWalduck([
        ...args(file, slot, b, '--format-version', format),
        '--until-caught-up',
      ]);
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /copied online|online copy/);
      assert.deepEqual(await marker(), [[1]]);
      await assertReplicaEquals(c.info, join(dir, file), [pub(b)]);
      assert.deepEqual(await status(file), [[`public.${b}`, 'streaming']]);
      assert.deepEqual(
        await duckQuery(
          join(dir, file),
          `SELECT DISTINCT source_table FROM walduck.columns WHERE source_table IN ('${a}', '${b}')`,
        ),
        [[b]],
      );
      // The old name at the next start: one line saying what happened.
      const old = await runWalduck([...args(file, slot, a, '--format-version', format), '--until-caught-up']);
      assert.equal(old.code, 1, old.stderr);
      assert.match(
        old.stderr,
        new RegExp(
          `table public\\.${a} was renamed at the source \\(to public\\.${b}\\), and walduck followed the rename at LSN [0-9A-F]+/[0-9A-F]+: name public\\.${b} in --tables instead of public\\.${a}`,
        ),
      );
      assert.equal(old.stderr.trim().split('\n').length, 1, old.stderr);
    });
  }

  it('two DDLs in quick succession (rename then ADD COLUMN; renamed twice), the catalog ahead of the stream', {
    timeout: 120_000,
  }, async () => {
    createTable('qa');
    createTable('qx');
    const file = 'quick.duckdb';
    const slot = 'quick_slot';
    const { run, seen } = await start(args(file, slot, 'qa,qx'));
    assert.equal(
      await runScript(
        `INSERT INTO qa VALUES (60, 'before');
         ALTER TABLE qa RENAME TO qb;
         ALTER TABLE qb ADD COLUMN extra text DEFAULT 'dflt';
         INSERT INTO qb VALUES (61, 'after', 1, 'x');
         UPDATE qb SET v = 'after' WHERE id = 1;
         INSERT INTO qx VALUES (60, 'before');
         ALTER TABLE qx RENAME TO qy;
         ALTER TABLE qy RENAME TO qz;
         INSERT INTO qz VALUES (61, 'after');
         UPDATE qz SET v = 'after' WHERE id = 2;`,
      ),
      0,
    );
    await seen('public.qx: RENAME TABLE to public.qz applied at LSN');
    await seen('public.qb: ADD COLUMN extra text applied at LSN');
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const done = await runWalduck([...args(file, slot, 'qb,qz'), '--until-caught-up']);
    assert.equal(done.code, 0, done.stderr);
    await assertReplicaEquals(c.info, join(dir, file), [pub('qb'), pub('qz')]);
    assert.deepEqual(await status(file), [
      ['public.qb', 'streaming'],
      ['public.qz', 'streaming'],
    ]);
  });

  it('a table with no change after its rename, and SET SCHEMA: applied once the stream passes the rename', {
    timeout: 120_000,
  }, async () => {
    psql(c.info, 'CREATE SCHEMA other');
    createTable('sa');
    createTable('sm');
    createTable('busy');
    const file = 'quiet.duckdb';
    const slot = 'quiet_slot';
    const { run, seen } = await start(args(file, slot, 'sa,sm,busy'));
    psql(c.info, `INSERT INTO sa VALUES (70, 'before'); ALTER TABLE sa RENAME TO sb;`);
    psql(c.info, `UPDATE sm SET v = 'before' WHERE id = 1; ALTER TABLE sm SET SCHEMA other;`);
    // The once-a-second catalog check sees both; changes of another table carry the stream past them.
    const busy = runScript(
      Array.from({ length: 200 }, (_, i) => `UPDATE busy SET n = ${i} WHERE id = ${(i % 20) + 1};`).join(
        '\n',
      ),
    );
    await seen('public.sa: RENAME TABLE to public.sb applied at LSN');
    await seen('public.sm: RENAME TABLE to other.sm applied at LSN');
    assert.equal(await busy, 0);
    psql(c.info, `INSERT INTO sb VALUES (71, 'after'); INSERT INTO other.sm VALUES (71, 'after');`);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const done = await runWalduck([...args(file, slot, 'sb,other.sm,busy'), '--until-caught-up']);
    assert.equal(done.code, 0, done.stderr);
    await assertReplicaEquals(c.info, join(dir, file), [
      pub('sb'),
      { schema: 'other', table: 'sm' },
      pub('busy'),
    ]);
  });

  it('kill -9 right after the rename, then a restart under the new name: equal, no copy', {
    timeout: 180_000,
  }, async () => {
    const oid = createTable('ka');
    const file = 'kill.duckdb';
    const slot = 'kill_slot';
    const { run, seen } = await start(args(file, slot, 'ka'));
    const writer = runScript(writerScript(oid, 200, 400), false);
    psql(c.info, `INSERT INTO ka VALUES (80, 'before'); ALTER TABLE ka RENAME TO kb;`);
    await seen('public.ka: RENAME TABLE to public.kb applied at LSN');
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.equal(await writer, 0, 'writer failed');
    psql(c.info, `INSERT INTO kb VALUES (81, 'after'); UPDATE kb SET v = 'after' WHERE id = 1;`);
    const again = await runWalduck([...args(file, slot, 'kb'), '--until-caught-up']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /copied online|online copy/);
    await assertReplicaEquals(c.info, join(dir, file), [pub('kb')]);
    assert.deepEqual(await status(file), [['public.kb', 'streaming']]);
  });

  it('renamed while walduck was stopped: the old name says so; the new name goes on with no copy', {
    timeout: 120_000,
  }, async () => {
    createTable('wa');
    const file = 'stopped.duckdb';
    const slot = 'stopped_slot';
    let r = await runWalduck([...args(file, slot, 'wa'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    psql(
      c.info,
      `INSERT INTO wa VALUES (90, 'before'); UPDATE wa SET v = 'before' WHERE id = 1;
       ALTER TABLE wa RENAME TO wb;
       INSERT INTO wb VALUES (91, 'after'); UPDATE wb SET v = 'after' WHERE id = 2;`,
    );
    r = await runWalduck([...args(file, slot, 'wa'), '--until-caught-up']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /table public\.wa was renamed to public\.wb at the source since the replica's last commit \(while walduck was stopped, or in a run that ended before its next commit\): name public\.wb in --tables instead of public\.wa/,
    );
    r = await runWalduck([...args(file, slot, 'wb'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /copied online|online copy/);
    assert.match(r.stderr, /public\.wa: RENAME TABLE to public\.wb applied at LSN/);
    await assertReplicaEquals(c.info, join(dir, file), [pub('wb')]);
    assert.deepEqual(await status(file), [['public.wb', 'streaming']]);
  });

  it('a swap (RENAME a TO a_old, RENAME a_new TO a): the followed table goes on as a_old; the new a is not applied to it (format-version 1)', {
    timeout: 120_000,
  }, async () => {
    createTable('sw');
    psql(
      c.info,
      `CREATE TABLE sw_new (id int PRIMARY KEY, v text, n int DEFAULT 0); INSERT INTO sw_new VALUES (1001, 'new', 0)`,
    );
    const file = 'swap.duckdb';
    const slot = 'swap_slot';
    const { run, seen } = await start(args(file, slot, 'sw', '--format-version', '1'));
    psql(c.info, `INSERT INTO sw VALUES (60, 'before')`);
    psql(c.info, 'BEGIN; ALTER TABLE sw RENAME TO sw_old; ALTER TABLE sw_new RENAME TO sw; COMMIT;');
    // The new sw's changes come right after the swap, before the renamed table has any.
    psql(c.info, `INSERT INTO sw VALUES (1060, 'new table'); UPDATE sw SET v = 'new table' WHERE id = 1001`);
    psql(c.info, `INSERT INTO sw_old VALUES (61, 'after'); UPDATE sw_old SET v = 'after' WHERE id = 1`);
    await seen('public.sw: RENAME TABLE to public.sw_old applied at LSN');
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const done = await runWalduck([
      ...args(file, slot, 'sw_old', '--format-version', '1'),
      '--until-caught-up',
    ]);
    assert.equal(done.code, 0, done.stderr);
    await assertReplicaEquals(c.info, join(dir, file), [pub('sw_old')]);
    assert.deepEqual(
      await duckQuery(
        join(dir, file),
        `SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'sw%' ORDER BY 1`,
      ),
      [['sw_old']],
    );
    assert.deepEqual(await status(file), [['public.sw_old', 'streaming']]);
  });

  it("rows under the old name inside the swapping transaction may be either table's: the renamed table is copied again online", {
    timeout: 180_000,
  }, async () => {
    createTable('sx');
    psql(
      c.info,
      `CREATE TABLE sx_new (id int PRIMARY KEY, v text, n int DEFAULT 0); INSERT INTO sx_new VALUES (1001, 'new', 0)`,
    );
    const file = 'swap-tx.duckdb';
    const slot = 'swap_tx_slot';
    const { run, seen } = await start(args(file, slot, 'sx'));
    psql(
      c.info,
      `BEGIN; INSERT INTO sx VALUES (60, 'in tx, old table'); UPDATE sx SET v = 'in tx' WHERE id = 1;
       ALTER TABLE sx RENAME TO sx_old; ALTER TABLE sx_new RENAME TO sx;
       INSERT INTO sx VALUES (1060, 'in tx, new table'); DELETE FROM sx WHERE id = 2; COMMIT;`,
    );
    psql(c.info, `INSERT INTO sx VALUES (1061, 'new table'); INSERT INTO sx_old VALUES (61, 'after')`);
    await seen('re-copying public.sx_old online');
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const done = await runWalduck([...args(file, slot, 'sx_old'), '--until-caught-up']);
    assert.equal(done.code, 0, done.stderr);
    await assertReplicaEquals(c.info, join(dir, file), [pub('sx_old')]);
    assert.deepEqual(await status(file), [['public.sx_old', 'streaming']]);
  });

  it('a swap, then a later DDL of the renamed table before walduck saw the swap: the rename is still placed at its own transaction', {
    timeout: 180_000,
  }, async () => {
    // The ADD COLUMN rewrites the pg_class row, whose xmin then no longer names the swap's transaction
    // (the row type's does).
    const stderr = await swapThen(
      'sh',
      `ALTER TABLE sh_old ADD COLUMN z int;
       INSERT INTO sh_old VALUES (61, 'after', 0, 7); UPDATE sh_old SET v = 'after' WHERE id = 1;`,
      `INSERT INTO sh_old VALUES (62, 'later', 0, 8)`,
    );
    assert.doesNotMatch(stderr, /re-copying/, 'placed at its transaction: no copy');
  });

  it('a swap, then OWNER TO of the renamed table before walduck saw the swap: the rename cannot be placed by the row type (OWNER TO rewrites it too), so the renamed table is copied again', {
    timeout: 180_000,
  }, async () => {
    psql(c.info, 'CREATE ROLE so_owner');
    await swapThen(
      'so',
      `ALTER TABLE so_old OWNER TO so_owner;
       INSERT INTO so_old VALUES (61, 'after'); UPDATE so_old SET v = 'after' WHERE id = 1;`,
      `INSERT INTO so_old VALUES (62, 'later')`,
    );
  });

  it('renamed twice with rows under the middle name: one line, and resync then the new name heal it', {
    timeout: 180_000,
  }, async () => {
    createTable('ta');
    const file = 'twice.duckdb';
    const slot = 'twice_slot';
    const { run } = await start(args(file, slot, 'ta'));
    psql(
      c.info,
      `INSERT INTO ta VALUES (60, 'before'); ALTER TABLE ta RENAME TO tb; INSERT INTO tb VALUES (61, 'middle'); ALTER TABLE tb RENAME TO tc; INSERT INTO tc VALUES (62, 'after')`,
    );
    psql(c.info, `INSERT INTO tc VALUES (63, 'later')`);
    const stopped = await run.done;
    assert.equal(stopped.code, 1, stopped.stderr);
    assert.match(
      stopped.stderr,
      /changes of public\.tb cannot be followed: no table has that name now, and public\.ta was renamed to public\.tc .*walduck resync --table public\.ta/,
    );
    const resync = await runWalduck(['resync', '--duckdb', join(dir, file), '--table', 'public.ta']);
    assert.equal(resync.code, 0, resync.stderr);
    const healed = await runWalduck([...args(file, slot, 'tc'), '--until-caught-up']);
    assert.equal(healed.code, 0, healed.stderr);
    await assertReplicaEquals(c.info, join(dir, file), [pub('tc')]);
    assert.deepEqual(await status(file), [
      ['public.ta', 'stopped'],
      ['public.tc', 'streaming'],
    ]);
  });

  it('swapped while walduck was stopped: the old name says it is another table now; the renamed one goes on with no copy', {
    timeout: 120_000,
  }, async () => {
    createTable('va');
    psql(
      c.info,
      `CREATE TABLE va_new (id int PRIMARY KEY, v text, n int DEFAULT 0); INSERT INTO va_new VALUES (1001, 'new', 0)`,
    );
    const file = 'swap-stopped.duckdb';
    const slot = 'swap_stopped_slot';
    let r = await runWalduck([...args(file, slot, 'va'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, `INSERT INTO va VALUES (60, 'before')`);
    psql(c.info, 'BEGIN; ALTER TABLE va RENAME TO va_old; ALTER TABLE va_new RENAME TO va; COMMIT;');
    psql(c.info, `INSERT INTO va VALUES (1060, 'new table'); INSERT INTO va_old VALUES (61, 'after')`);
    r = await runWalduck([...args(file, slot, 'va'), '--until-caught-up']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /table public\.va of this replica \(oid \d+\) was renamed to public\.va_old at the source since the replica's last commit \(while walduck was stopped, or in a run that ended before its next commit\), and public\.va is now another table/,
    );
    r = await runWalduck([...args(file, slot, 'va_old'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /copied online|online copy/);
    await assertReplicaEquals(c.info, join(dir, file), [pub('va_old')]);
    assert.deepEqual(await status(file), [['public.va_old', 'streaming']]);
  });
});
