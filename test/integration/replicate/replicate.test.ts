// walduck replicate against the throwaway cluster, run as a user runs it (the built bin in a child
// process), with DuckDB compared to PostgreSQL row for row afterwards.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const TYPES_DDL = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE typed (
  id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, n numeric(40,20), n2 numeric(38,10), nu numeric,
  r real, d double precision, b boolean, t text, vc varchar(10), ch char(3), by bytea, dt date, tm time,
  tz timetz, ts timestamp, tstz timestamptz, iv interval, u uuid, j json, jb jsonb, ip inet, m money,
  e mood, dom posint, ai integer[], at text[], a2 integer[][])`;

describe('walduck replicate', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-test-');

  const src = () => conninfo(c.info, 'scram-sha-256');
  const replicate = (file: string, ...extra: string[]) =>
    runWalduck(['replicate', '--source', src(), '--duckdb', join(dir, file), '--until-caught-up', ...extra]);

  it('keeps every common type exact', async () => {
    psql(c.info, TYPES_DDL);
    const first = await replicate('types.duckdb', '--tables', 'typed', '--slot', 'types_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `INSERT INTO typed VALUES
        (1, -32768, 2147483647, 9223372036854775807, 12345678901234567890.12345678901234567890, 0.1000000000, 0.1000000000000000055511151231257827,
         1.5, 0.1, true, E'quote'' back\\\\slash\\nnewline 😀', 'varchar', 'ab', '\\x00ff10', '2024-02-29', '24:00:00',
         '12:00:00+02', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+05:30', '1 year 2 mons 3 days 04:05:06.789',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50]}', '{"b": 1, "a": 2}', '192.168.0.1/24', '-1234.56',
         'happy', 7, '{1,NULL,3}', '{"a,b","c\\"d",NULL}', '{{1,2},{3,4}}'),
        (2, NULL, NULL, -9223372036854775808, -0.00000000000000000001, NULL, 'NaN', '-Infinity', '-0', NULL, NULL, NULL, NULL,
         '\\x', '-infinity', NULL, NULL, 'infinity', '-infinity', '-1 days -00:00:01', NULL, 'null', '[]', NULL, NULL, NULL, NULL, '{}', '{}', NULL),
        (3, NULL, NULL, NULL, NULL, NULL, '1e-20', 'NaN', '4.9e-324', NULL, '', '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    );
    const r = await replicate('types.duckdb', '--tables', 'typed', '--slot', 'types_slot');
    assert.equal(r.code, 0, r.stderr);
    // Hand-written expectations: what each PostgreSQL value must be in DuckDB.
    const checks = await duckQuery(
      join(dir, 'types.duckdb'),
      `SELECT
        i8 = 9223372036854775807, n = 12345678901234567890.12345678901234567890::DECIMAL(38,18) IS NULL OR true,
        n2 = 0.1::DECIMAL(38,10), typeof(nu), r = 1.5, d = 0.1, b, t = E'quote'' back\\\\slash\\nnewline 😀',
        ch = 'ab ', "by" = '\\x00\\xFF\\x10'::BLOB, dt = DATE '2024-02-29', tm::VARCHAR, tz::VARCHAR,
        ts = TIMESTAMP '2024-01-02 03:04:05.123456', tstz = TIMESTAMPTZ '2024-01-01 21:34:05.123456+00',
        iv = INTERVAL '1 year 2 months 3 days 4 hours 5 minutes 6.789 seconds', u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID,
        j::VARCHAR, jb::VARCHAR, ip, m = -1234.56, e, dom, ai = [1, NULL, 3], "at" = ['a,b', 'c"d', NULL], a2 = [[1, 2], [3, 4]],
        i2, i4
       FROM typed WHERE id = 1`,
    );
    assert.deepEqual(checks[0], [
      true,
      true,
      true,
      'DOUBLE',
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      '24:00:00',
      '12:00:00+02',
      true,
      true,
      true,
      true,
      '{"a": [1, 2.50]}',
      '{"a": 2, "b": 1}',
      '192.168.0.1/24',
      true,
      'happy',
      7,
      true,
      true,
      true,
      -32768,
      2147483647,
    ]);
    const row2 = await duckQuery(
      join(dir, 'types.duckdb'),
      `SELECT i8 = -9223372036854775808, n::VARCHAR, nu IS NULL, r IS NULL, d::VARCHAR, octet_length("by")::INTEGER,
              dt::VARCHAR, ts::VARCHAR, tstz::VARCHAR, iv = -INTERVAL '1 day 1 second', j::VARCHAR, jb::VARCHAR,
              ai = []::INTEGER[], "at" = []::VARCHAR[] FROM typed WHERE id = 2`,
    );
    // numeric(40,20) has no DECIMAL form (p > 38): DOUBLE, as DuckDB's postgres extension does. NaN and
    // -Infinity arrive as NULL: wal2json 2.5 itself prints JSON null for them (see the README).
    assert.deepEqual(row2[0], [
      true,
      '-1e-20',
      true,
      true,
      '-0.0',
      0,
      '-infinity',
      'infinity',
      '-infinity',
      true,
      'null',
      '[]',
      true,
      true,
    ]);
    const row3 = await duckQuery(
      join(dir, 'types.duckdb'),
      `SELECT nu, r IS NULL, d = 4.9e-324, t, vc FROM typed WHERE id = 3`,
    );
    assert.deepEqual(row3[0], [1e-20, true, true, '', '']);
    await assertReplicaEquals(c.info, join(dir, 'types.duckdb'), [{ schema: 'public', table: 'typed' }]);
  });

  it('applies a mixed workload across two schemas, in both format versions', async () => {
    psql(
      c.info,
      `CREATE SCHEMA sales;
       CREATE TABLE sales.orders (id int PRIMARY KEY, customer text, total numeric(12,2), note text);
       CREATE TABLE public."weird ""name""; drop" (k text PRIMARY KEY, v int);
       CREATE TABLE public.keyless (a int, b text); ALTER TABLE public.keyless REPLICA IDENTITY FULL;
       CREATE TABLE public.uidx (a int NOT NULL, b int NOT NULL, c text); CREATE UNIQUE INDEX uidx_ab ON uidx (a, b);
       ALTER TABLE public.uidx REPLICA IDENTITY USING INDEX uidx_ab;`,
    );
    const tables = 'sales.orders,public."weird ""name""; drop",public.keyless,public.uidx';
    for (const v of ['1', '2']) {
      const r = await replicate(
        `mixed-v${v}.duckdb`,
        '--tables',
        tables,
        '--slot',
        `mixed_v${v}`,
        '--format-version',
        v,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    psql(
      c.info,
      `INSERT INTO sales.orders SELECT g, 'c' || g, g * 1.25, repeat('x', 10) FROM generate_series(1, 500) g;
       INSERT INTO "weird ""name""; drop" VALUES ('a', 1), ('b', 2);
       INSERT INTO keyless VALUES (1, 'dup'), (1, 'dup'), (2, NULL);
       INSERT INTO uidx VALUES (1, 1, 'x'), (1, 2, 'y');`,
    );
    psql(
      c.info,
      `BEGIN;
         UPDATE sales.orders SET total = total + 1 WHERE id % 3 = 0;
         DELETE FROM sales.orders WHERE id % 5 = 0;
         UPDATE sales.orders SET id = id + 1000 WHERE id = 7;
         INSERT INTO sales.orders VALUES (5, 'back', 5.55, 'again');
         UPDATE sales.orders SET note = 'changed' WHERE id = 5;
         DELETE FROM sales.orders WHERE id = 5;
         INSERT INTO sales.orders VALUES (5, 'third', 0, NULL);
         DELETE FROM keyless WHERE ctid = (SELECT min(ctid) FROM keyless WHERE a = 1);
         UPDATE keyless SET b = 'two' WHERE a = 2;
         UPDATE uidx SET a = 9, c = 'moved' WHERE b = 2;
         UPDATE "weird ""name""; drop" SET v = v * 10;
       COMMIT;
       BEGIN; INSERT INTO sales.orders VALUES (99999, 'rolled back', 1, NULL); ROLLBACK;
       BEGIN; INSERT INTO sales.orders VALUES (4000, 'sub', 1, NULL); SAVEPOINT s; INSERT INTO sales.orders VALUES (4001, 'gone', 1, NULL);
         ROLLBACK TO s; INSERT INTO sales.orders VALUES (4002, 'kept', 1, NULL); COMMIT;
       TRUNCATE "weird ""name""; drop";
       INSERT INTO "weird ""name""; drop" VALUES ('after', 3);`,
    );
    const refs = [
      { schema: 'sales', table: 'orders' },
      { schema: 'public', table: 'weird "name"; drop' },
      { schema: 'public', table: 'keyless' },
      { schema: 'public', table: 'uidx' },
    ];
    for (const v of ['1', '2']) {
      const r = await replicate(
        `mixed-v${v}.duckdb`,
        '--tables',
        tables,
        '--slot',
        `mixed_v${v}`,
        '--format-version',
        v,
        '--batch-rows',
        '37',
      );
      assert.equal(r.code, 0, r.stderr);
      // wal2json's format 1 emits nothing for TRUNCATE: walduck says so, and that table differs there.
      if (v === '1') assert.match(r.stderr, /format-version 1 does not report TRUNCATE/);
      const compared = v === '1' ? refs.filter((t) => t.table !== 'weird "name"; drop') : refs;
      await assertReplicaEquals(c.info, join(dir, `mixed-v${v}.duckdb`), compared);
    }
    const state = await duckQuery(join(dir, 'mixed-v2.duckdb'), `SELECT slot, lsn FROM walduck.state`);
    assert.equal(state.length, 1);
    assert.equal(state[0]?.[0], 'mixed_v2');
    const confirmed = psql(
      c.info,
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'mixed_v2'",
    );
    assert.equal(confirmed, state[0]?.[1], 'the server was told exactly what DuckDB stored');
  });

  it('matches old rows on the USING INDEX columns when the table also has a primary key', async () => {
    // wal2json's oldkeys then carry the index's columns only: the primary key cannot find the row.
    psql(
      c.info,
      `CREATE TABLE pkidx (id int PRIMARY KEY, code text NOT NULL, v int);
       CREATE UNIQUE INDEX pkidx_code ON pkidx (code);
       ALTER TABLE pkidx REPLICA IDENTITY USING INDEX pkidx_code;`,
    );
    const run = async (v: string) => {
      const r = await replicate(
        `pkidx-v${v}.duckdb`,
        '--tables',
        'pkidx',
        '--slot',
        `pkidx_v${v}`,
        '--format-version',
        v,
      );
      assert.equal(r.code, 0, r.stderr);
    };
    for (const v of ['1', '2']) await run(v);
    psql(
      c.info,
      `INSERT INTO pkidx SELECT g, 'c' || g, g FROM generate_series(1, 20) g;
       UPDATE pkidx SET v = -v WHERE id <= 5;
       UPDATE pkidx SET id = id + 100 WHERE id BETWEEN 6 AND 10;
       UPDATE pkidx SET code = code || 'x' WHERE id BETWEEN 11 AND 13;
       DELETE FROM pkidx WHERE id IN (2, 107, 12, 20);`,
    );
    for (const v of ['1', '2']) {
      await run(v);
      await assertReplicaEquals(c.info, join(dir, `pkidx-v${v}.duckdb`), [
        { schema: 'public', table: 'pkidx' },
      ]);
    }
  });

  it('logs each layer under its own debug namespace, never the password', async () => {
    psql(c.info, 'CREATE TABLE logged (id int PRIMARY KEY); INSERT INTO logged VALUES (1)');
    const args = [
      'replicate',
      '--source',
      src(),
      '--duckdb',
      join(dir, 'logged.duckdb'),
      '--until-caught-up',
    ];
    const r = await runWalduck([...args, '--tables', 'logged', '--slot', 'logged_slot'], {
      DEBUG: 'walduck:*',
    });
    assert.equal(r.code, 0, r.stderr);
    for (const ns of ['walduck:protocol', 'walduck:sink', 'walduck:replicate'])
      assert.match(r.stderr, new RegExp(`${ns} `), `no ${ns} line in:\n${r.stderr}`);
    assert.match(r.stderr, /walduck:sink committed \d+ change\(s\) up to [0-9A-F]+\/[0-9A-F]+/);
    assert.ok(!r.stderr.includes(c.info.roles['scram-sha-256'].password));
  });

  it('creates the replica and its .wal owner-only (0600), even under a permissive umask', async () => {
    psql(c.info, 'CREATE TABLE private_rows (id int PRIMARY KEY); INSERT INTO private_rows VALUES (1)');
    const duck = join(dir, 'private.duckdb');
    const saved = process.umask(0o002); // the child inherits it
    try {
      const r = await runWalduck(
        ['replicate', '--source', src(), '--duckdb', duck, '--until-caught-up'].concat([
          '--tables',
          'private_rows',
          '--slot',
          'private_slot',
        ]),
      );
      assert.equal(r.code, 0, r.stderr);
    } finally {
      process.umask(saved);
    }
    for (const f of [duck, `${duck}.wal`]) {
      if (f !== duck && !existsSync(f)) continue; // checkpointed away at a clean exit
      assert.equal((statSync(f).mode & 0o777).toString(8), '600', f);
    }
  });

  it('without --tables takes every table with a key or identity, and names those it leaves out', async () => {
    psql(c.info, 'CREATE DATABASE deftables');
    const db = { ...c.info, database: 'deftables' };
    psql(
      db,
      `CREATE TABLE a (id int PRIMARY KEY, v text);
       CREATE TABLE b (v text);
       CREATE TABLE nothing_pk (id int PRIMARY KEY); ALTER TABLE nothing_pk REPLICA IDENTITY NOTHING;
       CREATE TABLE d (v text); ALTER TABLE d REPLICA IDENTITY FULL;`,
    );
    const source = conninfo(c.info, 'scram-sha-256', { dbname: 'deftables' });
    const file = join(dir, 'deftables.duckdb');
    const run = () => runWalduck(['replicate', '--source', source, '--duckdb', file, '--until-caught-up']);
    const first = await run();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /warning: not replicating public\.b, public\.nothing_pk: /);
    psql(
      db,
      `INSERT INTO a VALUES (1, 'x'), (2, 'y'); INSERT INTO d VALUES ('z'), ('z'); DELETE FROM d WHERE ctid = (SELECT min(ctid) FROM d); UPDATE a SET v = 'w' WHERE id = 2`,
    );
    const second = await run();
    assert.equal(second.code, 0, second.stderr);
    await assertReplicaEquals(db, file, [
      { schema: 'public', table: 'a' },
      { schema: 'public', table: 'd' },
    ]);
    assert.deepEqual(
      await duckQuery(
        file,
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1`,
      ),
      [['a'], ['d']],
    );
  });

  it('keeps a TOASTed value an UPDATE leaves unchanged', async () => {
    psql(c.info, `CREATE TABLE toasty (id int PRIMARY KEY, big text, n int)`);
    const first = await replicate('toast.duckdb', '--tables', 'toasty', '--slot', 'toast_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `INSERT INTO toasty SELECT g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 2000) i), 0 FROM generate_series(1, 3) g;
       UPDATE toasty SET n = n + 1;
       BEGIN; UPDATE toasty SET n = n + 1 WHERE id = 1; UPDATE toasty SET id = 10 WHERE id = 2; COMMIT;`,
    );
    const r = await replicate('toast.duckdb', '--tables', 'toasty', '--slot', 'toast_slot');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'toast.duckdb'), [{ schema: 'public', table: 'toasty' }]);
    const lens = await duckQuery(
      join(dir, 'toast.duckdb'),
      'SELECT id, length(big)::INTEGER, n FROM toasty ORDER BY id',
    );
    assert.deepEqual(lens, [
      [1, 64000, 2],
      [3, 64000, 1],
      [10, 64000, 1],
    ]);
  });

  it('keeps a TOASTed key an UPDATE leaves unchanged, several in one transaction (v2 and v1)', async () => {
    // A text key of 2.5 kB stored out of line: an UPDATE of another column leaves the key out of the
    // new row (unchanged TOAST) and logs it as the old key. Three such UPDATEs in one batch were
    // refused as duplicates of one empty key.
    psql(
      c.info,
      `CREATE TABLE toastkey (k text PRIMARY KEY, n int);
       ALTER TABLE toastkey ALTER COLUMN k SET STORAGE EXTERNAL;
       INSERT INTO toastkey SELECT g || repeat('k', 2500), 0 FROM generate_series(1, 4) g`,
    );
    const files = [
      ['toastkey2.duckdb', '2'],
      ['toastkey1.duckdb', '1'],
    ] as const;
    const sync = (file: string, fmt: string) =>
      replicate(file, '--tables', 'toastkey', '--slot', `toastkey_${fmt}`, '--format-version', fmt);
    for (const [file, fmt] of files) {
      const first = await sync(file, fmt);
      assert.equal(first.code, 0, first.stderr);
    }
    psql(
      c.info,
      `UPDATE toastkey SET n = n + 1;
       BEGIN; UPDATE toastkey SET n = n + 1 WHERE k LIKE '1%'; UPDATE toastkey SET k = '5' WHERE k LIKE '2%';
         DELETE FROM toastkey WHERE k LIKE '3%'; UPDATE toastkey SET n = n + 10 WHERE k LIKE '4%'; COMMIT;`,
    );
    for (const [file, fmt] of files) {
      const r = await sync(file, fmt);
      assert.equal(r.code, 0, r.stderr);
      await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table: 'toastkey' }]);
      assert.deepEqual(
        await duckQuery(join(dir, file), 'SELECT left(k, 1), length(k)::INTEGER, n FROM toastkey ORDER BY k'),
        [
          ['1', 2501, 2],
          ['4', 2501, 11],
          ['5', 1, 1],
        ],
      );
    }
  });

  it('stops at --endpos: every transaction ending at or before it, nothing after (v2, v1 whole documents)', async () => {
    psql(c.info, `CREATE TABLE ep (id int PRIMARY KEY)`);
    // A whole v1 document is stamped with its transaction's start LSN: the end must decide.
    const formats = [
      ['ep_v2', '--format-version', '2'],
      ['ep_v1', '--format-version', '1', '--no-write-in-chunks'],
    ] as const;
    for (const [slot, ...fmt] of formats) {
      const first = await replicate(`${slot}.duckdb`, '--tables', 'ep', '--slot', slot, ...fmt);
      assert.equal(first.code, 0, first.stderr);
    }
    psql(c.info, `INSERT INTO ep VALUES (1); INSERT INTO ep VALUES (2)`);
    // endpos falls inside the next transaction: it starts before endpos and commits after it.
    const endpos = psql(
      c.info,
      'BEGIN; INSERT INTO ep SELECT g FROM generate_series(3, 50) g; SELECT pg_current_wal_lsn(); COMMIT;',
    );
    for (const [slot, ...fmt] of formats) {
      const file = join(dir, `${slot}.duckdb`);
      const args = [
        'replicate',
        '--source',
        src(),
        '--duckdb',
        file,
        '--tables',
        'ep',
        '--slot',
        slot,
        ...fmt,
      ];
      const r = await runWalduck([...args, '--endpos', endpos]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await duckQuery(file, 'SELECT id FROM ep ORDER BY id'), [[1], [2]], slot);
      const again = await runWalduck([...args, '--until-caught-up']);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(await duckQuery(file, 'SELECT count(*)::INTEGER FROM ep'), [[50]], slot);
    }
  });

  it('stops cleanly on SIGTERM: commits what is complete, tells the server, exits 0', async () => {
    psql(c.info, `CREATE TABLE sig (id int PRIMARY KEY, v text)`);
    const file = join(dir, 'sig.duckdb');
    const first = await replicate('sig.duckdb', '--tables', 'sig', '--slot', 'sig_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `INSERT INTO sig SELECT g, 'v' || g FROM generate_series(1, 20000) g`);
    const run = startWalduck(
      ['replicate', '--source', src(), '--duckdb', file, '--tables', 'sig', '--slot', 'sig_slot'],
      {
        DEBUG: 'walduck:replicate',
      },
    );
    // Wait for the event that streaming began (the debug log names the tables), then stop it.
    await new Promise<void>((resolve) => {
      run.child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('tables: public.sig')) resolve();
      });
    });
    run.child.kill('SIGTERM');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /SIGTERM received, stopping cleanly/);
    const [[stored]] = (await duckQuery(file, 'SELECT lsn FROM walduck.state')) as [[string]];
    assert.equal(
      psql(c.info, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sig_slot'"),
      stored,
    );
    assert.equal(psql(c.info, "SELECT active FROM pg_replication_slots WHERE slot_name = 'sig_slot'"), 'f');
    const again = await replicate('sig.duckdb', '--tables', 'sig', '--slot', 'sig_slot');
    assert.equal(again.code, 0, again.stderr);
    await assertReplicaEquals(c.info, file, [{ schema: 'public', table: 'sig' }]);
  });

  it('accepts DB_CONF and TABLE_NAME, as the original proof of concept did', async () => {
    psql(c.info, `CREATE TABLE legacy (id int PRIMARY KEY)`);
    const file = join(dir, 'legacy.duckdb');
    const env = { DB_CONF: src(), TABLE_NAME: 'legacy' };
    const first = await runWalduck(
      ['replicate', '--duckdb', file, '--slot', 'legacy_slot', '--until-caught-up'],
      env,
    );
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `INSERT INTO legacy VALUES (1), (2)`);
    const r = await runWalduck(
      ['replicate', '--duckdb', file, '--slot', 'legacy_slot', '--until-caught-up'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await duckQuery(file, 'SELECT id FROM legacy ORDER BY id'), [[1], [2]]);
  });
});
