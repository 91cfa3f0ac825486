// Bad input: each a clear one-line error on stderr and a non-zero exit, never a hang.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql, startCluster, stopCluster } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const dir = useWorkdir('walduck-bad-');

function assertOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got: ${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

describe('replicate refuses bad input clearly', () => {
  const c = useCluster();
  const run = (source: string, ...extra: string[]) =>
    runWalduck([
      'replicate',
      '--source',
      source,
      '--duckdb',
      join(dir, `${extra.join('_').replace(/\W/g, '')}.duckdb`),
      '--until-caught-up',
      ...extra,
    ]);

  it('an unknown table', async () => {
    assertOneLineError(await run(conninfo(c.info), '--tables', 'public.nope'), /unknown table public\.nope/);
  });

  it('a table without key or FULL identity, naming the fix', async () => {
    psql(c.info, 'CREATE TABLE nokey (a int)');
    assertOneLineError(
      await run(conninfo(c.info), '--tables', 'nokey'),
      /public\.nokey.*REPLICA IDENTITY FULL/,
    );
  });

  it('a table with REPLICA IDENTITY NOTHING, even with a primary key', async () => {
    psql(
      c.info,
      'CREATE TABLE ridnothing (a int PRIMARY KEY); ALTER TABLE ridnothing REPLICA IDENTITY NOTHING',
    );
    assertOneLineError(
      await run(conninfo(c.info), '--tables', 'ridnothing'),
      /public\.ridnothing has REPLICA IDENTITY NOTHING.*ALTER TABLE/,
    );
  });

  it('a table with two columns DuckDB cannot tell apart, naming the way out', async () => {
    psql(c.info, 'CREATE TABLE twocase (id int PRIMARY KEY, "A" int, a int)');
    assertOneLineError(
      await run(conninfo(c.info), '--tables', 'twocase'),
      /table public\.twocase has columns "A" and a, which DuckDB cannot tell apart .*: leave the table out by naming the tables to follow with --tables/,
    );
  });

  it('a wrong password, naming the user but never the password', async () => {
    const r = await run(conninfo(c.info, 'scram-sha-256', { password: 'not-the-Secret' }), '--tables', 'x');
    assertOneLineError(r, /password.*wd_scram/i);
    assert.doesNotMatch(r.stderr, /not-the-Secret/);
  });

  it('a DuckDB file locked by another process', async () => {
    psql(c.info, 'CREATE TABLE lockme (id int PRIMARY KEY)');
    const file = join(dir, 'locked.duckdb');
    const holder = startWalduck([
      'replicate',
      '--source',
      conninfo(c.info),
      '--duckdb',
      file,
      '--tables',
      'lockme',
      '--slot',
      'lock_a',
    ]);
    // The holder has the file once it created its slot; wait for that event on the server.
    for (
      let i = 0;
      i < 200 &&
      psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lock_a' AND active") !== '1';
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await runWalduck([
      'replicate',
      '--source',
      conninfo(c.info),
      '--duckdb',
      file,
      '--tables',
      'lockme',
      '--slot',
      'lock_b',
      '--until-caught-up',
    ]);
    holder.child.kill('SIGTERM');
    const h = await holder.done;
    assertOneLineError(r, /in use by another process/);
    assert.equal(h.code, 0, `SIGTERM must stop cleanly: ${h.stderr}`);
  });

  it('a database not in UTF8, before its text is streamed differently from its copy', async () => {
    // wal2json prints text in the database's encoding, unconverted: a LATIN1 'Ã¯' (bytes c3 af) came
    // out of the stream as UTF-8 'ï' while the snapshot's COPY, converted to UTF8, held 'Ã¯'.
    psql(c.info, "CREATE DATABASE lat1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    psql(
      c.info,
      "CREATE TABLE l (id int PRIMARY KEY, t text); INSERT INTO l VALUES (1, 'caf' || chr(233))",
      'lat1',
    );
    assertOneLineError(
      await run(conninfo(c.info, 'scram-sha-256', { dbname: 'lat1' }), '--tables', 'l'),
      /encoding is LATIN1.*needs a UTF8 database/,
    );
  });

  it('usage errors exit 2 with one line', async () => {
    const r = await runWalduck(['replicate', '--duckdb', join(dir, 'u.duckdb'), '--endpos', 'zz']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const r2 = await runWalduck(['replicate']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /duckdb/);
  });
});

describe('replicate refuses a misconfigured server', () => {
  it('wal_level not logical, saying how to fix it', async () => {
    const info = await startCluster({ settings: { wal_level: 'replica' } });
    try {
      const r = await runWalduck([
        'replicate',
        '--source',
        conninfo(info),
        '--duckdb',
        join(dir, 'wl.duckdb'),
        '--until-caught-up',
      ]);
      assertOneLineError(r, /wal_level=replica.*wal_level = logical/);
    } finally {
      stopCluster(info);
    }
  });

  it('wal2json missing, naming the package', async () => {
    // The plugin is looked up on dynamic_library_path: pointing it elsewhere hides wal2json.
    const info = await startCluster({ settings: { dynamic_library_path: "'/nonexistent'" } });
    try {
      psql(info, 'CREATE TABLE t (id int PRIMARY KEY)');
      const r = await runWalduck([
        'replicate',
        '--source',
        conninfo(info),
        '--duckdb',
        join(dir, 'nw.duckdb'),
        '--until-caught-up',
      ]);
      assertOneLineError(r, /wal2json/);
      assert.match(r.stderr, /postgresql-\d+-wal2json/);
    } finally {
      stopCluster(info);
    }
  });
});
