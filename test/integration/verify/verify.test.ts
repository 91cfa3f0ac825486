// walduck verify against the throwaway cluster, run as a user runs it (the built bin): equal replicas
// of every type verify EQUAL; hand edits of the DuckDB file are found and --rows names exactly the
// edited rows; a writer running at the source during verify; a replicate running on the file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql, psqlArgs } from '../../../src/cluster/throwaway.js';
import type { VerifyReport } from '../../../src/verify/verify.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

// Every row of the README's type map, with edge values wal2json carries exactly (NaN/Infinity in
// numeric and float columns arrive as NULL, a documented loss, so they are left out here).
const SETUP = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE typed (
  id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, oi oid, n numeric(40,20), n2 numeric(38,10),
  n3 numeric(10,2), nu numeric, r real, d double precision, b boolean, t text, vc varchar(10), ch char(3),
  nm name, by bytea, dt date, tm time, tz timetz, ts timestamp, tstz timestamptz, iv interval, u uuid,
  j json, jb jsonb, ip inet, m money, e mood, dom posint, cp pair, bt bit(4), rg int4range,
  ai integer[], at text[], a2 integer[][], ab bytea[], an numeric(6,2)[], af float8[]);
INSERT INTO typed VALUES
  (1, -32768, 2147483647, 9223372036854775807, 4000000000, 12345678901234567890.12345678901234567890,
   0.1000000000, 12.50, 0.1000000000000000055511151231257827, 1.5, 0.1, true,
   E'quote'' back\\\\slash\\nnewline 😀', 'varchar', 'ab', 'name', '\\x00ff10', '2024-02-29', '24:00:00',
   '12:00:00+05:30', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+05:30',
   '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50]}',
   '{"b": 1, "a": 2}', '192.168.0.1/24', '-1234.56', 'happy', 7, '(1,"x y")', '1010', '[1,5)',
   '{1,NULL,3}', '{"a,b","c\\"d",NULL,""}', '{{1,2},{3,4}}', '{"\\\\x00ff",NULL}', '{1.50,-2}', '{1e20,0.1,-0,5e-324,1.5e15,1000000000000000.1,-1e15,123456789012345.6}'),
  (2, NULL, NULL, -9223372036854775808, 0, -0.00000000000000000001, NULL, 0, 1e-20, '1e-20', '-0', false,
   NULL, NULL, NULL, NULL, '\\x', '-infinity', NULL, NULL, 'infinity', '-infinity', '-1 days -00:00:01',
   NULL, 'null', '[]', NULL, NULL, NULL, NULL, NULL, NULL, 'empty', '{}', '{}', NULL, '{}', NULL, NULL),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 123456789012345678901234567890, 3.4e38, 1e15, NULL, '', '',
   '   ', '', NULL, '0001-01-01', '00:00:00.000001', NULL, '1999-12-31 23:59:59.5',
   '1999-12-31 23:59:59.000001+00', '1000 hours', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE bag (v text, n int);
ALTER TABLE bag REPLICA IDENTITY FULL;
INSERT INTO bag VALUES ('a', 1), ('a', 1), ('', 2), (NULL, 3);
CREATE SCHEMA "odd schema";
CREATE TABLE "odd schema"."Mixed ""Name""" (k text PRIMARY KEY, v int);
INSERT INTO "odd schema"."Mixed ""Name""" SELECT 'k' || g, g FROM generate_series(1, 2000) g;`;

// The rest of the README's type map, with the values that once went wrong: BC dates and timestamps
// (alone and in arrays), timestamptz[], timetz[], mixed-sign intervals, 24:00:00, ±infinity, inet and
// composite arrays, multidimensional arrays with NULL elements, domains (also in arrays), geometric,
// text-search, bit-string, network and range types, int2vector/oidvector, pg_lsn.
const TYPEMAP = `CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);
CREATE DOMAIN price AS numeric(10,2);
CREATE TABLE typemap (
  k int PRIMARY KEY, cd cidr, mc macaddr, m8 macaddr8, vb varbit, bt bit(3), x xml, tv tsvector, tq tsquery,
  pt point, bx box, ln line, ls lseg, pa path, pg polygon, ci circle, i2v int2vector, oiv oidvector,
  mr int4multirange, tr tstzrange, dr daterange, nr numrange, d date, ts timestamp, tstz timestamptz,
  tm time, tz timetz, iv interval, st short_text, pr price, e mood, cp pair, lsn pg_lsn, j json, jb jsonb,
  u uuid, n numeric, n0 numeric(20,0), m money, f4 real, ch char(4),
  tsa timestamptz[], tza timetz[], da date[], iva interval[], ua uuid[], ba boolean[], jba jsonb[],
  ea mood[], cpa pair[], a3 integer[][][], na numeric[], ma money[], ipa inet[], ta text[], f4a real[],
  i8a bigint[], cha char(2)[], bxa box[], pra price[], tsa2 timestamp[][], bya bytea[]);
INSERT INTO typemap VALUES
  (1, '10.1.0.0/16', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'10101', B'101',
   '<a href="x">t &amp; ü</a>', 'a fat cat:3A sat', 'fat & (rat | cat)', '(1.5,-2)', '((0,0),(1,1))', '{1,-1,0}',
   '[(0,0),(1,2.5)]', '((0,0),(1,1),(2,0))', '((0,0),(1,1),(1,0))', '<(1,2),3.5>', '1 2 3', '1 2 4000000000',
   '{[1,3),[5,9)}', '[2024-01-01 00:00:00+05:30,2024-06-01 12:00:00-03:30)', '[2024-01-01,2024-02-01)',
   '(1.50,2.25]', '0044-03-15 BC', '0044-03-15 12:00:01.5 BC', '0044-03-15 12:00:01.5+01 BC', '24:00:00',
   '12:00:00-03:30', '1 year -2 mons 3 days -04:05:06.789', 'dom text', 12.30, 'sad', '(-1,"a,b")',
   '16/B374D848', '{ "b" : 1,  "a":"\\u00fc"}', '{"b": [1, {"c": null}], "a": 2.50}',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.500, 12345678901234567890, '1234567.89', 3.4028235e38, 'ab',
   '{"2024-01-01 00:00:00+05:30","0044-03-15 12:00:01.5+01 BC",infinity,NULL}', '{12:00:00+05:30,24:00:00-01}',
   '{2024-02-29,"0044-03-15 BC",-infinity,NULL}', '{"1 year -2 mons","-3 days 04:00:00",NULL}',
   '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', '{t,f,NULL}', ARRAY['{"a": 1}'::jsonb, '[]', NULL],
   '{happy,NULL,sad}', ARRAY[ROW(1, 'x')::pair, NULL, ROW(NULL, NULL)::pair],
   '{{{1,2},{3,NULL}},{{5,6},{7,8}}}', '{1.500,-0.1,NULL}', '{1.25,-3}', '{10.0.0.1,::1/128,NULL}',
   '{"",NULL,"NULL","a b","c,d","e\\"f"}', '{1.5,-0,NULL}', '{9223372036854775807,-9223372036854775808}',
   '{"a ",b,NULL}', ARRAY['((0,0),(1,1))'::box, '((2,2),(3,3))'], '{1.5,NULL}',
   '{{"2024-01-01 00:00:00","0001-01-01 00:00:00 BC"},{infinity,NULL}}', '{"\\\\x00ff",NULL,"\\\\x"}'),
  (2, NULL, NULL, NULL, B'', B'000', '', '', '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', '',
   '{}', 'empty', '(,)', NULL, 'infinity', '-infinity', 'infinity', '00:00:00', '00:00:00+14:59',
   '-1 mons 1 days -00:00:00.000001', '', -0.01, NULL, '(,)', '0/0', '[]', 'null', NULL, 0, 0, '-0.01', '-0',
   '    ', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
   '{}', '{}', '{}', '{}'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, '4713-11-24 BC', '2000-01-01 00:00:00', '1970-01-01 00:00:00.000001+00',
   NULL, NULL, '1 mons -30 days', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '-1e-10', NULL, NULL, NULL,
   NULL, '{NULL}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{NULL}', NULL, NULL, '{NULL}', NULL,
   NULL, NULL, NULL, NULL, NULL, NULL);
-- numeric(p,p): DuckDB prints DECIMAL(p,p) as .500, PostgreSQL 0.500.
ALTER TABLE typemap ADD COLUMN fr numeric(3,3) DEFAULT -0.5, ADD COLUMN fra numeric(4,4)[] DEFAULT '{0.0001,NULL,0}';`;
/** The same rows again, inserted after the first replicate: they reach the replica by stream. */
const TYPEMAP_STREAMED = `INSERT INTO typemap SELECT k + 100, cd, mc, m8, vb, bt, x, tv, tq, pt, bx, ln, ls, pa, pg, ci, i2v, oiv, mr, tr, dr, nr, d, ts, tstz, tm, tz, iv, st, pr, e, cp, lsn, j, jb, u, n, n0, m, f4, ch, tsa, tza, da, iva, ua, ba, jba, ea, cpa, a3, na, ma, ipa, ta, f4a, i8a, cha, bxa, pra, tsa2, bya FROM typemap WHERE k < 100`;

async function editDuck(file: string, sql: string): Promise<void> {
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  try {
    await conn.run(sql);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

describe('walduck verify', () => {
  // Not UTC, with LMT offsets of seconds before 1935: verify's pinned sessions make it irrelevant.
  const c = useCluster({ settings: { timezone: "'America/St_Johns'" } });
  const dir = useWorkdir('walduck-verify-');
  const src = () => conninfo(c.info, 'scram-sha-256');
  const verify = (file: string, ...extra: string[]) =>
    runWalduck(['verify', '--source', src(), '--duckdb', join(dir, file), ...extra], {}, 120_000);
  const report = (stdout: string) => JSON.parse(stdout) as VerifyReport;

  it('finds equal replicas of every type EQUAL, after bringing the replica to its point', async () => {
    psql(c.info, SETUP);
    psql(c.info, TYPEMAP);
    const tables = ['typed', 'bag', '"odd schema"."Mixed ""Name"""', 'typemap'].join(',');
    const first = await runWalduck([
      'replicate',
      '--source',
      src(),
      '--duckdb',
      join(dir, 'types.duckdb'),
      '--tables',
      tables,
      '--slot',
      'types_slot',
      '--until-caught-up',
    ]);
    assert.equal(first.code, 0, first.stderr);
    // Changes the replica has not seen yet: verify must apply them before comparing.
    psql(
      c.info,
      `UPDATE typed SET t = 'updated', ai = '{7}' WHERE id = 2; INSERT INTO bag VALUES ('a', 1);
       DELETE FROM "odd schema"."Mixed ""Name""" WHERE v % 7 = 0`,
    );
    psql(c.info, TYPEMAP_STREAMED);
    const r = await verify('types.duckdb');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(
      lines.slice(0, 4).map((l) => l.replace(/, \d+ rows.*/, '')),
      [
        'public.bag: EQUAL',
        'public.typed: EQUAL',
        'public.typemap: EQUAL',
        // Printed as quote_ident() writes it: odd schema.Mixed "Name" was ambiguous.
        '"odd schema"."Mixed ""Name""": EQUAL',
      ],
    );
    assert.match(lines[0] ?? '', /EQUAL, 5 rows$/);
    // The report says where a comparison is not exact.
    assert.match(lines[1] ?? '', /EQUAL, 3 rows \(tolerance: n, nu compared as the nearest double/);
    assert.match(
      lines[2] ?? '',
      /EQUAL, 6 rows \(tolerance: n compared as the nearest double.*; na elements compared/,
    );
    assert.match(lines[3] ?? '', /EQUAL, 1715 rows$/);
    assert.match(lines[4] ?? '', /^EQUAL: 4 of 4 table\(s\) equal at /);
    const json = await verify('types.duckdb', '--json', '--tables', 'typed');
    assert.equal(json.code, 0, json.stderr);
    const rep = report(json.stdout);
    assert.equal(rep.equal, true);
    assert.equal(rep.lsn, rep.replicaLsn);
    // Neither behind nor ahead: the replica's slot confirmed exactly what DuckDB holds, and the
    // temporary slot is gone.
    assert.equal(
      psql(c.info, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'types_slot'"),
      rep.replicaLsn,
    );
    assert.equal(
      psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'walduck_verify%'"),
      '0',
    );
    assert.deepEqual(
      rep.tables.map((t) => [t.table, t.source.rows, t.source.hash === t.replica.hash]),
      [['typed', '3', true]],
    );
  });

  it('verifies a --numeric exact replica exactly, catching it up in the same mode', async () => {
    const first = await runWalduck([
      'replicate',
      '--source',
      src(),
      '--duckdb',
      join(dir, 'exact.duckdb'),
      '--tables',
      'typed,typemap',
      '--slot',
      'exact_slot',
      '--numeric',
      'exact',
      '--until-caught-up',
    ]);
    assert.equal(first.code, 0, first.stderr);
    // Trailing zeros the replica keeps as PostgreSQL printed them; the catch-up must run with
    // --numeric exact, or its replicate refuses the file's VARCHAR columns.
    psql(c.info, "UPDATE typemap SET n = 2.25000, na = '{1.10,NULL,-0}' WHERE k = 101");
    const r = await verify('exact.duckdb');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^public\.typed: EQUAL, 3 rows$/m);
    assert.match(r.stdout, /^public\.typemap: EQUAL, 6 rows$/m);
    assert.match(r.stdout, /1 transaction\(s\) applied/);
  });

  it('finds hand edits, and --rows names exactly the edited rows with both values', async () => {
    const file = join(dir, 'types.duckdb');
    await editDuck(
      file,
      `UPDATE typed SET t = 'changed by hand' WHERE id = 1;
       DELETE FROM typed WHERE id = 2;
       UPDATE typed SET vc = NULL WHERE id = 3;
       INSERT INTO bag VALUES ('', 2);
       UPDATE "odd schema"."Mixed ""Name""" SET v = -1 WHERE k = 'k1000'`,
    );
    const plain = await verify('types.duckdb');
    assert.equal(plain.code, 1, plain.stderr);
    assert.match(
      plain.stdout,
      /^"odd schema"\."Mixed ""Name""": DIFFERENT, 1715 rows on both sides, but the row hashes differ/m,
    );
    assert.match(plain.stdout, /^public\.bag: DIFFERENT, source 5 rows, replica 6 rows$/m);
    assert.match(plain.stdout, /^public\.typed: DIFFERENT, source 3 rows, replica 2 rows/m);
    assert.match(plain.stdout, /^public\.typemap: EQUAL, 6 rows/m);
    assert.match(plain.stdout, /^DIFFERENT: 1 of 4 table\(s\) equal/m);

    const r = await verify('types.duckdb', '--rows', '--json');
    assert.equal(r.code, 1, r.stderr);
    const rep = report(r.stdout);
    const diffs = Object.fromEntries(
      rep.tables.map((t) => [t.table, (t.diffs ?? []).map((d) => [d.kind, d.key, d.source, d.replica])]),
    );
    const typed = [...(diffs.typed ?? [])].sort((a, b) =>
      JSON.stringify(a[1]).localeCompare(JSON.stringify(b[1])),
    );
    assert.deepEqual(
      typed.map(([kind, key]) => [kind, key]),
      [
        ['different', { id: '1' }],
        ['missing', { id: '2' }],
        ['different', { id: '3' }],
      ],
    );
    const byId = (id: string) =>
      rep.tables.find((t) => t.table === 'typed')?.diffs?.find((d) => d.key?.id === id) ??
      assert.fail(`no diff for id ${id}`);
    assert.equal(byId('1').source?.t, "quote' back\\slash\nnewline 😀");
    assert.equal(byId('1').replica?.t, 'changed by hand');
    // NULL against the empty string: told apart.
    assert.equal(byId('3').source?.vc, '');
    assert.equal(byId('3').replica?.vc, null);
    assert.deepEqual(diffs.bag, [['extra', null, null, { v: '', n: '2' }]]);
    assert.deepEqual(diffs['Mixed "Name"'], [
      ['different', { k: 'k1000' }, { k: 'k1000', v: '1000' }, { k: 'k1000', v: '-1' }],
    ]);

    const text = await verify('types.duckdb', '--rows', '--max-diffs', '1', '--tables', 'typed');
    assert.equal(text.code, 1, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.equal(lines.length, 4, text.stdout);
    assert.match(
      lines[1] ?? '',
      /^ {2}(different: id=[13]: source \{.*\} replica \{.*\}|missing in replica: id=2: source \{.*\})$/,
    );
    assert.match(lines[2] ?? '', /more differences/);
  });

  it('verifies EQUAL while a writer changes the source', async () => {
    psql(c.info, 'CREATE TABLE w (id int PRIMARY KEY, v int, note text)');
    const first = await runWalduck([
      'replicate',
      '--source',
      src(),
      '--duckdb',
      join(dir, 'w.duckdb'),
      '--tables',
      'w',
      '--slot',
      'w_slot',
      '--until-caught-up',
    ]);
    assert.equal(first.code, 0, first.stderr);
    // Small transactions, each inserting, updating and deleting, until terminated.
    const writer = spawn(
      'psql',
      [
        ...psqlArgs(c.info),
        '-c',
        `DO $$ BEGIN FOR i IN 1..10000000 LOOP
           INSERT INTO w VALUES (i, i, 'n' || i);
           UPDATE w SET v = v + 1, note = NULL WHERE id = i / 2;
           DELETE FROM w WHERE id = i - 40;
           COMMIT;
         END LOOP; END $$`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGAPPNAME: 'verify_writer' } },
    );
    let writerErr = '';
    writer.stderr?.on('data', (d: Buffer) => {
      writerErr += d.toString();
    });
    let exited = false;
    const writerDone = new Promise((r) =>
      writer.on('close', () => {
        exited = true;
        r(undefined);
      }),
    );
    try {
      // The writer is past its first 40 transactions (from then on the table holds 40 rows).
      while (!exited && Number(psql(c.info, 'SELECT count(*) FROM w WHERE id >= 41')) === 0)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(exited, false, `the writer stopped: ${writerErr}`);
      const r = await verify('w.duckdb', '--json', '--rows');
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const rep = report(r.stdout);
      assert.equal(rep.equal, true);
      assert.ok(rep.catchUp.transactions > 0, 'the writer committed nothing the replica had to catch up');
      assert.equal(rep.tables[0]?.source.rows, '40');
    } finally {
      psql(
        c.info,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'verify_writer'",
      );
      await writerDone;
    }
  });

  it('refuses with one line while walduck replicate runs on the file, then verifies once it stopped', async () => {
    const file = join(dir, 'w.duckdb');
    const run = startWalduck(
      ['replicate', '--source', src(), '--duckdb', file, '--tables', 'w', '--slot', 'w_slot'],
      {
        DEBUG: 'walduck:replicate',
      },
    );
    // The event that it holds the file: it streams (DEBUG names it); output may arrive in pieces.
    let seen = '';
    await new Promise<void>((resolve) => {
      run.child.stderr?.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('streaming from slot')) resolve();
      });
    });
    const r = await verify('w.duckdb');
    run.child.kill('SIGTERM');
    const stopped = await run.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /^walduck: duckdb failed: DuckDB file .* is in use by another process.*stop the replicator/,
    );
    const again = await verify('w.duckdb');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^public\.w: EQUAL, 40 rows$/m);
  });

  it('usage errors exit 2', async () => {
    const r = await verify('types.duckdb', '--max-diffs', '0');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^walduck: .*--max-diffs must be a positive whole number/);
    const s = await runWalduck(['verify', '--source', src()]);
    assert.equal(s.code, 2);
    const n = await verify('no-such.duckdb');
    assert.equal(n.code, 1);
    assert.match(n.stderr, /^walduck: config failed: DuckDB file .* does not exist\n$/);
  });
});
