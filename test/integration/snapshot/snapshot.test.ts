// The initial snapshot against the throwaway cluster, run as a user runs it (the built bin), DuckDB
// compared with PostgreSQL row for row: rows that existed before the slot, writers busy during the
// copy (one and two jobs), a SIGKILL mid-copy, --no-snapshot, and the refusals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { type ClusterInfo, conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { psqlSession } from '../../helpers/psql-session.js';
import { runWalduck, startWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

/**
 * A table of `rows` rows with a spread of types; ~90 bytes a row (150k rows > 1024 pages: split).
 * Every type here loads through DuckDB's CSV reader; the array test below covers the parsed path.
 */
function createTable(info: ClusterInfo, name: string, rows: number): void {
  psql(
    info,
    `CREATE TABLE ${name} (id int PRIMARY KEY, n bigint, pad text, amount numeric(12,2), at timestamptz, tags text, raw bytea);
     INSERT INTO ${name} SELECT g, g::bigint * 1000003, E'row\\t' || g || E'\\n' || repeat('p', g % 40), g / 7.0,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second', ARRAY['a' || g, NULL], int4send(g)
       FROM generate_series(1, ${rows}) g;
     INSERT INTO ${name} VALUES (0, NULL, NULL, NULL, NULL, NULL, NULL)`,
  );
}

/**
 * A writer that inserts, updates and deletes rows of `table` in many small transactions until a row
 * appears in its stop table. Resolves once it has started (its NOTICE reached us).
 */
async function startWriter(info: ClusterInfo, table: string) {
  psql(
    info,
    `CREATE TABLE ${table}_stop (x int);
     CREATE PROCEDURE ${table}_churn() LANGUAGE plpgsql AS $$
     DECLARE i int := 0; k int;
     BEGIN
       RAISE NOTICE 'churn started';
       LOOP
         i := i + 1;
         k := (i * 7919) % 20000 + 1;
         INSERT INTO ${table} VALUES (1000000 + i, i, 'new', i, now(), ARRAY['n'], NULL);
         UPDATE ${table} SET n = n + 1, pad = pad || 'u' WHERE id = k;
         DELETE FROM ${table} WHERE id = (k + 5003) % 20000 + 1;
         UPDATE ${table} SET id = -i WHERE id = 1000000 + i - 3;
         COMMIT;
         PERFORM pg_sleep(0.0005);
         EXIT WHEN EXISTS (SELECT 1 FROM ${table}_stop);
       END LOOP;
     END $$`,
  );
  const child = spawn(
    'psql',
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', info.socketDir, '-p', String(info.port), '-U', 'postgres'],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  child.stdin?.end(`\\c ${info.database}\nCALL ${table}_churn();\n`);
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('churn started')) resolve();
    });
    child.on('close', () => reject(new Error(`writer ended before starting: ${err}`)));
  });
  return {
    stop: async () => {
      psql(info, `INSERT INTO ${table}_stop VALUES (1)`);
      assert.equal(await done, 0, `writer failed: ${err}`);
    },
  };
}

describe('walduck replicate: initial snapshot', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-snap-');

  const src = () => conninfo(c.info, 'scram-sha-256');
  const args = (file: string, slot: string, table: string, ...extra: string[]) => [
    'replicate',
    '--source',
    src(),
    '--duckdb',
    join(dir, file),
    '--tables',
    table,
    '--slot',
    slot,
    '--until-caught-up',
    ...extra,
  ];
  const slots = (name: string) =>
    Number(psql(c.info, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${name}'`));

  it('copies rows that existed before the slot, then streams what follows', async () => {
    createTable(c.info, 'before_slot', 5000);
    const first = await runWalduck(args('before.duckdb', 'before_slot', 'before_slot'));
    assert.equal(first.code, 0, first.stderr);
    await assertReplicaEquals(c.info, join(dir, 'before.duckdb'), [
      { schema: 'public', table: 'before_slot' },
    ]);
    psql(
      c.info,
      "UPDATE before_slot SET pad = 'changed' WHERE id % 10 = 0; DELETE FROM before_slot WHERE id < 100",
    );
    const second = await runWalduck(args('before.duckdb', 'before_slot', 'before_slot'));
    assert.equal(second.code, 0, second.stderr);
    await assertReplicaEquals(c.info, join(dir, 'before.duckdb'), [
      { schema: 'public', table: 'before_slot' },
    ]);
  });

  for (const jobs of [1, 2]) {
    it(`is exact with writers busy during the copy (--snapshot-jobs ${jobs})`, async () => {
      const table = `busy${jobs}`;
      // Two jobs split only tables of 1024 pages or more (150k rows here); one job needs no more.
      createTable(c.info, table, jobs > 1 ? 150_000 : 30_000);
      const writer = await startWriter(c.info, table);
      const file = `${table}.duckdb`;
      // The writer runs for the whole copy: it stops only when told, after this run.
      const first = await runWalduck(args(file, table, table, '--snapshot-jobs', String(jobs)), {
        DEBUG: 'walduck:replicate',
      });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, new RegExp(`imported on ${jobs} connection`));
      if (jobs > 1)
        assert.match(first.stderr, new RegExp(`public\\.${table}: \\d+ pages in \\d+ ctid ranges`));
      await writer.stop();
      const second = await runWalduck(args(file, table, table));
      assert.equal(second.code, 0, second.stderr);
      await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table }]);
      assert.ok(Number(psql(c.info, `SELECT count(*) FROM ${table} WHERE id < 0`)) > 0, 'the writer wrote');
    });
  }

  it('is exact after a SIGKILL during the copy and a restart', async () => {
    createTable(c.info, 'killed', 50_000);
    const writer = await startWriter(c.info, 'killed');
    const file = join(dir, 'killed.duckdb');
    const run = startWalduck(args('killed.duckdb', 'killed', 'killed'), { DEBUG: 'walduck:replicate' });
    await new Promise<void>((resolve) => {
      let err = '';
      run.child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('imported on')) resolve();
      });
    });
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    // Nothing of the copy was committed; the slot walduck created is still there.
    assert.deepEqual(await duckQuery(file, 'SELECT count(*) FROM walduck.state'), [[0n]]);
    assert.deepEqual(await duckQuery(file, 'SELECT count(*) FROM killed'), [[0n]]);
    assert.equal(slots('killed'), 1);
    const again = await runWalduck(args('killed.duckdb', 'killed', 'killed'), { DEBUG: 'walduck:replicate' });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /dropping slot killed: its initial snapshot never committed/);
    assert.equal(existsSync(join(dir, '.killed.duckdb.walduck-snapshot')), false, 'the CSV spool is removed');
    await writer.stop();
    const last = await runWalduck(args('killed.duckdb', 'killed', 'killed'));
    assert.equal(last.code, 0, last.stderr);
    await assertReplicaEquals(c.info, file, [{ schema: 'public', table: 'killed' }]);
  });

  it('loads awkward text exactly through CSV segments, and arrays through the parsed path', async () => {
    psql(
      c.info,
      String.raw`CREATE TABLE awkward (id int PRIMARY KEY, t text, b bytea, m money, n numeric(10,2), f float8,
         ts timestamptz, j jsonb, u uuid, ch char(3));
       INSERT INTO awkward VALUES
         (1, E'comma, "quote" \\backslash\nnewline\r\ncrlf\ttab', '\x00ff2c22', '-1234.56', 1.25, 'NaN',
          '2024-02-29 12:00:00.123456+02', '{"a": "x,\"y"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a'),
         (2, '', '\x', '0', -0.01, '-Infinity', 'infinity', 'null', NULL, ''),
         (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
         (4, '\.', NULL, NULL, NULL, 1e-300, NULL, '[]', NULL, NULL),
         (5, '😀 ünïcödé', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
       INSERT INTO awkward SELECT g, repeat(md5(g::text), 10) || ',' || g, int4send(g), g, g / 3.0, g / 7.0,
         now(), jsonb_build_object('g', g), md5(g::text)::uuid, 'x' FROM generate_series(6, 3000) g;
       INSERT INTO awkward VALUES (3001, repeat('big,"row"' || E'\n', 350000), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
       CREATE TABLE onecol (v text); ALTER TABLE onecol REPLICA IDENTITY FULL;
       INSERT INTO onecol VALUES (E'\uFEFFstarts with a byte order mark'), (NULL), (''), ('x'), (NULL);
       CREATE TABLE arrays (id int PRIMARY KEY, a int[], t text[]);
       INSERT INTO arrays SELECT g, ARRAY[g, NULL], ARRAY['a,' || g, E'q"\\'] FROM generate_series(1, 500) g;`,
    );
    const tables = 'awkward,onecol,arrays';
    const file = join(dir, 'awkward.duckdb');
    // Segments of 4 kB: hundreds of loads, a row far above DuckDB's 2 MB line default.
    const r = await runWalduck(args('awkward.duckdb', 'awkward', tables), {
      WALDUCK_SNAPSHOT_SEGMENT_BYTES: '4096',
    });
    assert.equal(r.code, 0, r.stderr);
    const refs = ['awkward', 'onecol', 'arrays'].map((table) => ({ schema: 'public', table }));
    await assertReplicaEquals(c.info, file, refs);
    // (A NaN in numeric(p,s) stops the copy with one line: test/integration/replicate/numeric-exact.test.ts.)
    assert.equal(existsSync(join(dir, '.awkward.duckdb.walduck-snapshot')), false, 'the spool is removed');
    // A directory name DuckDB would read as a glob pattern: the spool goes to the temp directory.
    mkdirSync(join(dir, 'glob*[1]'));
    const globbed = join(dir, 'glob*[1]', 'g.duckdb');
    const g = await runWalduck(args(join('glob*[1]', 'g.duckdb'), 'globbed', 'onecol'));
    assert.equal(g.code, 0, g.stderr);
    await assertReplicaEquals(c.info, globbed, [{ schema: 'public', table: 'onecol' }]);
  });

  it('SIGTERM during the copy is a clean stop at once, even while the copy waits on a server gone quiet', async () => {
    createTable(c.info, 'stopped', 300_000);
    const file = join(dir, 'stopped.duckdb');
    const run = startWatched(args('stopped.duckdb', 'stopped', 'stopped'), 'walduck:replicate');
    await run.waitFor(/imported on 1 connection/);
    // The backend running the COPY is frozen (SIGSTOP): a wedged server, as a copy waiting for a lock.
    let pid = '';
    while (!pid) {
      pid = psql(
        c.info,
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY %stopped%' AND state = 'active'",
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    process.kill(Number(pid), 'SIGSTOP');
    let r: Awaited<typeof run.done>;
    try {
      run.child.kill('SIGTERM');
      // Before: it went on waiting for the copy (a service manager's stop timed out into SIGKILL),
      // and a stop that did land mid-copy exited 1, "snapshot failed: interrupted".
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
      r = await run.done;
      clearTimeout(timer);
    } finally {
      process.kill(Number(pid), 'SIGCONT');
    }
    assert.equal(r.signal, null, `still waiting for the copy after SIGTERM: ${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped during the initial snapshot: nothing of it was kept/);
    assert.doesNotMatch(r.stderr, /^walduck: .*failed/m);
    // Nothing kept, the slot it created dropped: the next start copies from scratch.
    assert.equal(slots('stopped'), 0);
    assert.deepEqual(await duckQuery(file, 'SELECT count(*) FROM walduck.state'), [[0n]]);
    const again = await runWalduck(args('stopped.duckdb', 'stopped', 'stopped'));
    assert.equal(again.code, 0, again.stderr);
    await assertReplicaEquals(c.info, file, [{ schema: 'public', table: 'stopped' }]);
  });

  it('SIGTERM while creating the slot waits for a long transaction is a clean stop at once', async () => {
    createTable(c.info, 'waiting', 100);
    // CREATE_REPLICATION_SLOT waits for every transaction with an xid running when it starts.
    const open = psqlSession(c.info, "BEGIN; INSERT INTO waiting VALUES (-1); SELECT 'held';\n", 'held');
    await open.ready;
    const file = join(dir, 'waiting.duckdb');
    const run = startWalduck(args('waiting.duckdb', 'waiting', 'waiting'));
    let r: Awaited<typeof run.done>;
    try {
      while (
        psql(
          c.info,
          "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE_REPLICATION_SLOT%' AND wait_event_type = 'Lock'",
        ) !== '1'
      )
        await new Promise((resolve) => setImmediate(resolve));
      run.child.kill('SIGTERM');
      // Before: it waited with the server until the transaction ended (hours, for a forgotten session).
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
      r = await run.done;
      clearTimeout(timer);
    } finally {
      await open.end('ROLLBACK;\n');
    }
    assert.equal(r.signal, null, `still waiting for the slot after SIGTERM: ${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped during the initial snapshot: nothing of it was kept/);
    // A slot the server went on to create is dropped at the next start, which copies from scratch.
    const again = await runWalduck(args('waiting.duckdb', 'waiting', 'waiting'));
    assert.equal(again.code, 0, again.stderr);
    await assertReplicaEquals(c.info, file, [{ schema: 'public', table: 'waiting' }]);
  });

  it('--no-snapshot streams only new changes', async () => {
    createTable(c.info, 'nosnap', 100);
    const first = await runWalduck(args('nosnap.duckdb', 'nosnap', 'nosnap', '--no-snapshot'));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await duckQuery(join(dir, 'nosnap.duckdb'), 'SELECT count(*) FROM nosnap'), [[0n]]);
    psql(c.info, "INSERT INTO nosnap VALUES (-1, 1, 'after', 1, now(), NULL, NULL)");
    const second = await runWalduck(args('nosnap.duckdb', 'nosnap', 'nosnap', '--no-snapshot'));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await duckQuery(join(dir, 'nosnap.duckdb'), 'SELECT id, pad FROM nosnap'), [
      [-1, 'after'],
    ]);
    // Rows from before the slot are not in DuckDB: changing them is divergence, said once, counted.
    psql(c.info, 'UPDATE nosnap SET pad = $$u$$ WHERE id IN (-1, 1, 2); DELETE FROM nosnap WHERE id = 3');
    const third = await runWalduck(args('nosnap.duckdb', 'nosnap', 'nosnap', '--no-snapshot'));
    assert.equal(third.code, 0, third.stderr);
    const warnings = third.stderr.split('\n').filter((l) => l.includes('no longer equals the source'));
    assert.equal(warnings.length, 1, third.stderr);
    assert.match(
      warnings[0] ?? '',
      /public\.nosnap .* (UPDATE changed 1 row\(s\) in DuckDB where the source changed 3|DELETE changed 0)/,
    );
    assert.match(third.stderr, /; 3 update\/delete row\(s\) unmatched in DuckDB/);
    assert.deepEqual(await duckQuery(join(dir, 'nosnap.duckdb'), 'SELECT id, pad FROM nosnap'), [[-1, 'u']]);
  });

  it('--snapshot on a file that already holds a replica is refused', async () => {
    const r = await runWalduck(args('nosnap.duckdb', 'nosnap', 'nosnap', '--snapshot'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already holds a replica/);
  });

  it('--snapshot recreates an existing inactive slot on a new file', async () => {
    const r = await runWalduck(args('forced.duckdb', 'nosnap', 'nosnap', '--snapshot'));
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'forced.duckdb'), [{ schema: 'public', table: 'nosnap' }]);
  });

  it('an unknown table still errors, creating no slot', async () => {
    const r = await runWalduck(args('unknown.duckdb', 'unknown_slot', 'no_such_table'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown table public\.no_such_table/);
    assert.equal(slots('unknown_slot'), 0);
  });

  it('refuses a non-empty target without state, creating no slot', async () => {
    createTable(c.info, 'prefilled', 10);
    const file = join(dir, 'prefilled.duckdb');
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(
      'CREATE TABLE prefilled (id INTEGER, n BIGINT, pad VARCHAR, amount DECIMAL(12,2), "at" TIMESTAMPTZ, tags VARCHAR, raw BLOB)',
    );
    await conn.run('INSERT INTO prefilled (id) VALUES (1)');
    conn.closeSync();
    db.closeSync();
    const r = await runWalduck(args('prefilled.duckdb', 'prefilled', 'prefilled'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already holds rows but the file records no replication state/);
    assert.equal(slots('prefilled'), 0);
  });

  it('a failed copy leaves no rows and drops the slot it created', async () => {
    // A timestamp PostgreSQL accepts and DuckDB cannot hold: the copy fails in DuckDB's conversion.
    psql(
      c.info,
      `CREATE TABLE failing (id int PRIMARY KEY, at timestamp);
       INSERT INTO failing SELECT g, '2024-01-01' FROM generate_series(1, 10000) g;
       INSERT INTO failing VALUES (0, '294270-01-01 00:00:00')`,
    );
    const r = await runWalduck(args('failing.duckdb', 'failing', 'failing'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^walduck: snapshot failed: copying public\.failing into DuckDB failed: /);
    assert.equal(slots('failing'), 0);
    const file = join(dir, 'failing.duckdb');
    assert.deepEqual(await duckQuery(file, 'SELECT count(*) FROM failing'), [[0n]]);
    assert.deepEqual(await duckQuery(file, 'SELECT count(*) FROM walduck.state'), [[0n]]);
    assert.deepEqual(await duckQuery(file, 'SELECT count(*) FROM walduck.snapshot_pending'), [[0n]]);
  });
});
