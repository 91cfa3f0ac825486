// A followed table renamed to a name another table used earlier in the stream (the mirror of the
// swap): `b` (not followed) has rows, then it is dropped or renamed away, then the followed `a` is
// renamed to `b` and gets rows. wal2json names each change by the name the table had then, so the
// changes under `b` are the other table's before the rename and the followed table's after it: none
// of the former may reach DuckDB, and none of the latter may be dropped. Every check compares DuckDB
// with PostgreSQL row for row under the table's name now.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import {
  replicateArgs,
  runWalduck,
  startWatched,
  statusJson,
  type WatchedRun,
} from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-onto-used-');

const pub = (table: string) => ({ schema: 'public', table });
const replicate = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir, 20);
const args = (file: string, slot: string, tables: string, ...extra: string[]) =>
  replicate(file, '--slot', slot, '--tables', tables, ...extra);

async function status(file: string): Promise<[unknown, unknown][]> {
  return (await statusJson(join(dir, file))).map((x) => [x.table, x.state]);
}

/** Starts walduck and resolves once it streams; `seen(text)` then resolves when stderr holds text. */
async function start(argv: readonly string[], debug = 'walduck:replicate') {
  const run = startWatched(argv, debug);
  const seen = (text: string) => run.waitFor((log) => log.includes(text));
  await seen('streaming from slot');
  return { run, seen };
}

/** Stops `run` cleanly, runs walduck again until caught up under `table`, and compares it with the source. */
async function stopThenCatchUp(run: WatchedRun, file: string, slot: string, table: string): Promise<void> {
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const done = await runWalduck([...args(file, slot, table), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [pub(table)]);
}

/**
 * Moves the position `file` records for `slot` to the source's WAL insert position now, as an idle
 * advance does (a keepalive past a rename the catalog check had not seen yet, then a kill before it).
 */
async function recordPositionNow(file: string, slot: string): Promise<void> {
  const [text, bytes] = psql(
    c.info,
    "SELECT pg_current_wal_insert_lsn()::text || '|' || (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint",
  ).split('|');
  const db = await DuckDBInstance.create(join(dir, file));
  const conn = await db.connect();
  try {
    await conn.run(`UPDATE walduck.state SET lsn = '${text}', lsn_bytes = ${bytes} WHERE slot = '${slot}'`);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** The followed table `a` (ids 1-20) and the unfollowed `b` (ids 501-505, other values). */
function createTables(a: string, b: string): void {
  psql(
    c.info,
    `CREATE TABLE ${a} (id int PRIMARY KEY, v text);
     INSERT INTO ${a} SELECT g, 'a' || g FROM generate_series(1, 20) g;
     CREATE TABLE ${b} (id int PRIMARY KEY, v text);`,
  );
}

describe('a followed table renamed to a name another table used earlier in the stream', () => {
  for (const away of ['DROP TABLE', 'RENAME']) {
    it(`while walduck runs, the name ignored already (the other table ${away === 'DROP TABLE' ? 'dropped' : 'renamed away'}): the renamed table's rows under it are applied, the other's are not`, {
      timeout: 120_000,
    }, async () => {
      const a = `la_${away === 'DROP TABLE' ? 'd' : 'r'}`;
      const b = `lb_${away === 'DROP TABLE' ? 'd' : 'r'}`;
      createTables(a, b);
      const file = `live-${a}.duckdb`;
      const slot = `live_${a}_slot`;
      const { run, seen } = await start(args(file, slot, a));
      // The other b's rows first: the name is then known as not replicated.
      psql(c.info, `INSERT INTO ${b} SELECT g, 'old b' FROM generate_series(501, 505) g`);
      await seen(`changes of public.${b} are not replicated`);
      // One query string, each statement its own transaction, commits not waiting for the disk: the
      // rows under the new name follow the rename closely. (A catalog check of walduck's between the
      // two makes the rename due before the rows, so before the fix this failed only about half the
      // time.)
      psql(
        c.info,
        `SET synchronous_commit = off;
         INSERT INTO ${b} VALUES (506, 'old b, last'); COMMIT;
         ${away === 'DROP TABLE' ? `DROP TABLE ${b};` : `ALTER TABLE ${b} RENAME TO ${b}_gone;`} COMMIT;
         ALTER TABLE ${a} RENAME TO ${b}; COMMIT;
         INSERT INTO ${b} VALUES (21, 'after the rename'); COMMIT;
         UPDATE ${b} SET v = 'updated after the rename' WHERE id = 1; COMMIT;
         DELETE FROM ${b} WHERE id = 2;`,
      );
      await seen(`public.${a}: RENAME TABLE to public.${b} applied at LSN`);
      psql(c.info, `INSERT INTO ${b} VALUES (22, 'later')`);
      await stopThenCatchUp(run, file, slot, b);
      assert.deepEqual(await status(file), [[`public.${b}`, 'streaming']]);
    });
  }

  it("while walduck runs, rows under the name inside the renaming transaction may be either table's: the renamed table is copied again", {
    timeout: 120_000,
  }, async () => {
    const a = 'ta_in';
    const b = 'tb_in';
    createTables(a, b);
    const file = 'inside.duckdb';
    const slot = 'inside_slot';
    const { run, seen } = await start(args(file, slot, a), 'walduck:replicate,walduck:sink');
    psql(c.info, `INSERT INTO ${b} SELECT g, 'old b' FROM generate_series(501, 505) g`);
    await seen(`changes of public.${b} are not replicated`);
    psql(
      c.info,
      `BEGIN;
       INSERT INTO ${b} VALUES (506, 'old b, same transaction');
       DROP TABLE ${b};
       ALTER TABLE ${a} RENAME TO ${b};
       INSERT INTO ${b} VALUES (21, 'same transaction');
       UPDATE ${b} SET v = 'same transaction' WHERE id = 1;
       COMMIT;`,
    );
    psql(c.info, `INSERT INTO ${b} VALUES (22, 'after')`);
    await seen(`re-copying public.${b} online`);
    // The copy done, the renaming transaction is behind the next DuckDB commit (SIGINT commits it).
    await run.waitFor(
      new RegExp(`online copy of public\\.${b}: chunk \\d+ wrote \\d+ row\\(s\\) \\(\\d+ in all\\), done`),
    );
    await stopThenCatchUp(run, file, slot, b);
  });

  for (const format of ['2', '1'])
    it(`while walduck was stopped: the other table's rows under the name before the rename are not applied to the renamed one (format-version ${format})`, {
      timeout: 120_000,
    }, async () => {
      const a = `sa_v${format}`;
      const b = `sb_v${format}`;
      createTables(a, b);
      const file = `stopped${format}.duckdb`;
      const slot = `stopped_slot${format}`;
      let r = await runWalduck([...args(file, slot, a, '--format-version', format), '--until-caught-up']);
      assert.equal(r.code, 0, r.stderr);
      psql(c.info, `INSERT INTO ${b} SELECT g, 'old b' FROM generate_series(501, 505) g`);
      psql(c.info, `UPDATE ${b} SET v = 'old b, updated' WHERE id = 501`);
      psql(c.info, `INSERT INTO ${a} VALUES (30, 'before the rename')`);
      psql(c.info, `DROP TABLE ${b}`);
      psql(c.info, `ALTER TABLE ${a} RENAME TO ${b}`);
      psql(c.info, `INSERT INTO ${b} VALUES (31, 'after the rename'); DELETE FROM ${b} WHERE id = 3`);
      r = await runWalduck([...args(file, slot, b, '--format-version', format), '--until-caught-up']);
      assert.equal(r.code, 0, r.stderr);
      await assertReplicaEquals(c.info, join(dir, file), [pub(b)]);
      assert.deepEqual(await status(file), [[`public.${b}`, 'streaming']]);
    });

  for (const used of [false, true])
    it(`renamed while walduck was stopped, the renaming transaction before the recorded position${used ? ' (the name used by another table before it)' : ''}: the changes under the new name are the renamed table's, no copy`, {
      timeout: 120_000,
    }, async () => {
      const a = used ? 'pa_used' : 'pa';
      const b = used ? 'pb_used' : 'pb';
      createTables(a, b);
      const file = `before-${a}.duckdb`;
      const slot = `before_${a}_slot`;
      let r = await runWalduck([...args(file, slot, a), '--until-caught-up']);
      assert.equal(r.code, 0, r.stderr);
      if (used) psql(c.info, `INSERT INTO ${b} SELECT g, 'old b' FROM generate_series(501, 505) g`);
      psql(c.info, `DROP TABLE ${b}`);
      psql(c.info, `ALTER TABLE ${a} RENAME TO ${b}`);
      // The recorded position passes the rename, which DuckDB has not applied: the stream never shows
      // the renaming transaction's commit, and every change under the new name from here on is ours.
      await recordPositionNow(file, slot);
      psql(
        c.info,
        `INSERT INTO ${b} VALUES (31, 'after the rename'); UPDATE ${b} SET v = 'after' WHERE id = 1`,
      );
      psql(c.info, `DELETE FROM ${b} WHERE id = 3`);
      r = await runWalduck([...args(file, slot, b), '--until-caught-up']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /copied online|online copy/);
      // Left out at first (the renaming commit not seen yet), then read again once the stream passed
      // the start's WAL position without it.
      assert.match(r.stderr, /renamed to public\.\w+ before the position walduck resumed from/);
      await assertReplicaEquals(c.info, join(dir, file), [pub(b)]);
      assert.deepEqual(await status(file), [[`public.${b}`, 'streaming']]);
    });
});
