// The replica commands with names PostgreSQL allows and a shell user meets: dots, commas, spaces,
// quotes, upper case, reserved words, a newline, a DuckDB file path with spaces.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('walduck status, verify and resync with unusual names', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck names-');
  const src = () => conninfo(c.info, 'scram-sha-256');
  const file = () => join(dir, 'odd names.duckdb');

  it('name each table unambiguously, quoted as quote_ident() would, plain names plain', async () => {
    psql(
      c.info,
      `CREATE SCHEMA "a.b"; CREATE TABLE "a.b".c (id int PRIMARY KEY, v text);
       CREATE SCHEMA a; CREATE TABLE a."b.c" (id int PRIMARY KEY, v text);
       CREATE TABLE public."select" (id int PRIMARY KEY, "from" text);
       CREATE TABLE public.plain (id int PRIMARY KEY);
       INSERT INTO "a.b".c VALUES (1, 'x'); INSERT INTO a."b.c" VALUES (1, 'y');
       INSERT INTO "select" VALUES (1, 'z'); INSERT INTO plain VALUES (1);`,
    );
    const tables = '"a.b".c,a."b.c",public."select",plain';
    let r = await runWalduck(
      ['replicate', '--source', src(), '--duckdb', file(), '--tables', tables, '--until-caught-up'],
      {},
      120_000,
    );
    assert.equal(r.code, 0, r.stderr);

    r = await runWalduck(['status', '--duckdb', file()]);
    assert.equal(r.code, 0, r.stderr);
    const shown = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/ {2,}/).slice(1, 2)[0]);
    assert.deepEqual(shown, ['a."b.c"', '"a.b".c', 'public.plain', 'public."select"']);
    r = await runWalduck(['status', '--duckdb', file(), '--json']);
    const json = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { table: string; source_schema: string; source_table: string });
    assert.deepEqual(
      json.map((t) => [t.table, t.source_schema, t.source_table]),
      [
        ['a."b.c"', 'a', 'b.c'],
        ['"a.b".c', 'a.b', 'c'],
        ['public.plain', 'public', 'plain'],
        ['public."select"', 'public', 'select'],
      ],
    );

    r = await runWalduck(['verify', '--source', src(), '--duckdb', file()], {}, 120_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^"a\.b"\.c: EQUAL, 1 rows$/m);
    assert.match(r.stdout, /^a\."b\.c": EQUAL, 1 rows$/m);
    assert.match(r.stdout, /^public\."select": EQUAL, 1 rows$/m);
    assert.match(r.stdout, /^public\.plain: EQUAL, 1 rows$/m);

    r = await runWalduck(['resync', '--duckdb', file(), '--table', 'a."b.c"']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^a\."b\.c" will be copied again online/);
  });
});

describe('walduck replicate and status name tables and columns as quote_ident() does', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck names-');
  const src = () => conninfo(c.info, 'scram-sha-256');
  const odd = '"odd schema"."Mixed ""Name"""';
  const oddRe = '"odd schema"\\."Mixed ""Name"""';

  it('a value error names "odd schema"."Mixed ""Name""" and its column quoted, in one line', async () => {
    psql(
      c.info,
      `CREATE SCHEMA "odd schema"; CREATE TABLE ${odd} ("Key" int PRIMARY KEY, "T s" timestamp);
       INSERT INTO ${odd} VALUES (7, '294270-01-01 00:00:00')`,
    );
    const r = await runWalduck(
      [
        'replicate',
        '--source',
        src(),
        '--duckdb',
        join(dir, 'v.duckdb'),
        '--tables',
        odd,
        '--until-caught-up',
      ],
      {},
      120_000,
    );
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      new RegExp(`table ${oddRe}, column "T s", key \\("Key"\\) = \\("7"\\), snapshot at LSN `),
    );
  });

  it('status prints a partition "odd schema"."Mixed ""Part""" quoted', async () => {
    psql(
      c.info,
      `CREATE TABLE "odd schema"."Parted" (id int PRIMARY KEY) PARTITION BY RANGE (id);
       CREATE TABLE "odd schema"."Mixed ""Part""" PARTITION OF "odd schema"."Parted" FOR VALUES FROM (0) TO (10);
       INSERT INTO "odd schema"."Parted" VALUES (1)`,
    );
    const file = join(dir, 'p.duckdb');
    let r = await runWalduck(
      [
        'replicate',
        '--source',
        src(),
        '--duckdb',
        file,
        '--tables',
        '"odd schema"."Parted"',
        '--until-caught-up',
      ],
      {},
      120_000,
    );
    assert.equal(r.code, 0, r.stderr);
    r = await runWalduck(['status', '--duckdb', file]);
    assert.equal(r.code, 0, r.stderr);
    const row = r.stdout.trim().split('\n')[1] ?? '';
    assert.match(row, /"odd schema"\."Parted" +streaming .* "odd schema"\."Mixed ""Part"""$/);
  });
});
