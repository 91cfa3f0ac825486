// Names that must not matter: the DuckDB file's (DuckDB names the attached database after it), the
// schemas' (one named like walduck's state schema, one named like the file), case-only differences
// (DuckDB identifiers are case-insensitive), and PostgreSQL's longest names with Unicode, spaces and
// quotes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { quoteIdent } from '../../../src/sink/sql.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('names', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-names-');
  const replicate = (file: string, tables: string, slot: string) =>
    runWalduck(
      [
        'replicate',
        '--source',
        conninfo(c.info, 'scram-sha-256'),
        '--duckdb',
        join(dir, file),
        '--tables',
        tables,
        '--slot',
        slot,
        '--until-caught-up',
      ],
      {},
      120_000,
    );
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    return lines[0] ?? '';
  };

  it('a file named walduck.duckdb, and acc.duckdb replicating schema acc, work (snapshot and stream)', async () => {
    psql(
      c.info,
      `CREATE TABLE orders (id int PRIMARY KEY, v text); INSERT INTO orders VALUES (1, 'a');
       CREATE SCHEMA acc; CREATE TABLE acc.acc (id int PRIMARY KEY, v text); INSERT INTO acc.acc VALUES (1, 'a')`,
    );
    for (const [file, table, slot] of [
      ['walduck.duckdb', 'orders', 'n_walduck'],
      ['acc.duckdb', 'acc.acc', 'n_acc'],
    ] as const) {
      const first = await replicate(file, table, slot);
      assert.equal(first.code, 0, first.stderr);
      psql(c.info, `INSERT INTO ${table} VALUES (2, 'b'); UPDATE ${table} SET v = 'c' WHERE id = 1`);
      const again = await replicate(file, table, slot);
      assert.equal(again.code, 0, again.stderr);
      const [schema, name] = table.includes('.') ? table.split('.') : ['public', table];
      await assertReplicaEquals(c.info, join(dir, file), [{ schema: schema ?? '', table: name ?? '' }]);
    }
  });

  it('refuses, naming both, tables that would land in one DuckDB table', async () => {
    psql(
      c.info,
      `CREATE TABLE "Orders" (id int PRIMARY KEY); CREATE SCHEMA main; CREATE TABLE main.orders (id int PRIMARY KEY)`,
    );
    const caseOnly = await replicate('case.duckdb', '"Orders",orders', 'n_case');
    assert.notEqual(caseOnly.code, 0);
    assert.match(oneLine(caseOnly.stderr), /public\."Orders" and public\.orders would both land/);
    const mainPublic = await replicate('main.duckdb', 'public.orders,main.orders', 'n_main');
    assert.notEqual(mainPublic.code, 0);
    assert.match(oneLine(mainPublic.stderr), /public\.orders and main\.orders would both land/);
  });

  it("refuses a source schema named like walduck's state schema, in one line", async () => {
    psql(c.info, 'CREATE SCHEMA "Walduck"; CREATE TABLE "Walduck".state (id int PRIMARY KEY)');
    const r = await replicate('state.duckdb', '"Walduck".state', 'n_state');
    assert.notEqual(r.code, 0);
    assert.match(oneLine(r.stderr), /source schema "Walduck" would land in walduck's own DuckDB schema/);
  });

  it('63-byte names with Unicode, spaces and quotes work end to end', async () => {
    const schema = `Sché ma "q" ${'ü'.repeat(25)}`; // 63 bytes
    const table = `T "x" ${'€'.repeat(19)}`; // 63 bytes
    const col = `Col "a" b ${'ß'.repeat(26)}`; // 62 bytes
    for (const n of [schema, table, col])
      assert.ok(Buffer.byteLength(n) >= 62 && Buffer.byteLength(n) <= 63, n);
    const q = `${quoteIdent(schema)}.${quoteIdent(table)}`;
    psql(
      c.info,
      `CREATE SCHEMA ${quoteIdent(schema)}; CREATE TABLE ${q} (id int PRIMARY KEY, ${quoteIdent(col)} text);
       INSERT INTO ${q} VALUES (1, 'one')`,
    );
    const first = await replicate('long.duckdb', q, 'n_long');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `INSERT INTO ${q} VALUES (2, 'two'); UPDATE ${q} SET ${quoteIdent(col)} = 'uno' WHERE id = 1`,
    );
    const again = await replicate('long.duckdb', q, 'n_long');
    assert.equal(again.code, 0, again.stderr);
    await assertReplicaEquals(c.info, join(dir, 'long.duckdb'), [{ schema, table }]);
  });

  // A dotted name is two tables joined by '.' only in print: "a.b".c and a."b.c" are both followed,
  // and restart, and verify tells them apart. A source schema named main lands in DuckDB's main, where
  // verify once read it back as public.
  it('"a.b".c beside a."b.c", and a source schema named main: restart and verify', async () => {
    psql(
      c.info,
      `CREATE SCHEMA "a.b"; CREATE TABLE "a.b".c (id int PRIMARY KEY, x numeric(10,2));
       CREATE SCHEMA a; CREATE TABLE a."b.c" (id int PRIMARY KEY, x text);
       CREATE SCHEMA IF NOT EXISTS main; CREATE TABLE main.solo (id int PRIMARY KEY, v numeric(10,2));
       INSERT INTO "a.b".c VALUES (1, 1.10); INSERT INTO a."b.c" VALUES (1, 'one'); INSERT INTO main.solo VALUES (1, 1.5)`,
    );
    const verify = (file: string, ...tables: string[]) =>
      runWalduck(
        [
          'verify',
          '--source',
          conninfo(c.info, 'scram-sha-256'),
          '--duckdb',
          join(dir, file),
          ...(tables.length > 0 ? ['--tables', tables.join(',')] : []),
        ],
        {},
        120_000,
      );
    for (const [file, tables, slot, refs] of [
      [
        'dots.duckdb',
        '"a.b".c,a."b.c"',
        'n_dots',
        [
          { schema: 'a.b', table: 'c' },
          { schema: 'a', table: 'b.c' },
        ],
      ],
      ['main.duckdb', 'main.solo', 'n_main', [{ schema: 'main', table: 'solo' }]],
    ] as const) {
      const first = await replicate(file, tables, slot);
      assert.equal(first.code, 0, first.stderr);
      psql(
        c.info,
        slot === 'n_dots'
          ? `INSERT INTO "a.b".c VALUES (2, 2.25); UPDATE a."b.c" SET x = 'uno' WHERE id = 1`
          : 'INSERT INTO main.solo VALUES (2, 2.5)',
      );
      const again = await replicate(file, tables, slot);
      assert.equal(again.code, 0, again.stderr);
      await assertReplicaEquals(c.info, join(dir, file), refs);
      const all = await verify(file);
      assert.equal(all.code, 0, all.stderr + all.stdout);
      assert.match(all.stdout, new RegExp(`EQUAL: ${refs.length} of ${refs.length} table\\(s\\) equal`));
      const named = await verify(file, tables);
      assert.equal(named.code, 0, named.stderr + named.stdout);
    }
  });

  // DuckDB schema names are case-insensitive: "Sales".a and sales.b share the DuckDB schema the first
  // created. A restart looked sales.b up by its exact case, missed it and failed on CREATE TABLE ("already
  // exists"). A start refused for a third table, sales."A" (it would land on "Sales".a), leaves a stopped
  // record naming that DuckDB table, which verify then compared against sales."A".
  it('"Sales".a beside sales.b: restart, a refused start, and verify', async () => {
    psql(
      c.info,
      `CREATE SCHEMA "Sales"; CREATE SCHEMA sales; CREATE TABLE "Sales".a (id int PRIMARY KEY, v text);
       CREATE TABLE sales.b (id int PRIMARY KEY, v text); CREATE TABLE sales."A" (id int PRIMARY KEY);
       INSERT INTO "Sales".a VALUES (1, 'x'); INSERT INTO sales.b VALUES (1, 'y')`,
    );
    const tables = '"Sales".a,sales.b';
    const first = await replicate('case.duckdb', tables, 'n_case');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `INSERT INTO "Sales".a VALUES (2, 'z'); UPDATE sales.b SET v = 'w'`);
    const again = await replicate('case.duckdb', tables, 'n_case');
    assert.equal(again.code, 0, again.stderr);
    const refused = await replicate('case.duckdb', `${tables},sales."A"`, 'n_case');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /would both land in DuckDB table/);
    const third = await replicate('case.duckdb', tables, 'n_case');
    assert.equal(third.code, 0, third.stderr);
    await assertReplicaEquals(c.info, join(dir, 'case.duckdb'), [
      { schema: 'Sales', table: 'a' },
      { schema: 'sales', table: 'b' },
    ]);
    const v = await runWalduck(
      ['verify', '--source', conninfo(c.info, 'scram-sha-256'), '--duckdb', join(dir, 'case.duckdb')],
      {},
      120_000,
    );
    assert.equal(v.code, 0, v.stderr + v.stdout);
    assert.match(v.stdout, /^"Sales"\.a: EQUAL, 2 rows$/m);
  });

  // A rename that changes only case lands on the same DuckDB table: walduck once stopped there, saying
  // DuckDB "already has" the table and asking to drop it (its own replica table).
  // DuckDB folds ASCII letters only: "Ünï" and "ünï", "Ä" and "ä" are two names to it. walduck once
  // folded every letter (toLowerCase(), SQL lower()) and refused these as landing in one table.
  it('names that differ only in the case of a non-ASCII letter are two names, as in DuckDB', async () => {
    psql(
      c.info,
      `CREATE SCHEMA "Ünï"; CREATE SCHEMA "ünï";
       CREATE TABLE "Ünï"."Tä" (id int PRIMARY KEY, v text); CREATE TABLE "ünï"."Tä" (id int PRIMARY KEY, v text);
       CREATE TABLE "ünï".cols (id int PRIMARY KEY, "Ä" int, "ä" int);
       INSERT INTO "Ünï"."Tä" VALUES (1, 'upper'); INSERT INTO "ünï"."Tä" VALUES (1, 'lower');
       INSERT INTO "ünï".cols VALUES (1, 10, 20)`,
    );
    const tables = '"Ünï"."Tä","ünï"."Tä","ünï".cols';
    const first = await replicate('fold.duckdb', tables, 'n_fold');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `INSERT INTO "Ünï"."Tä" VALUES (2, 'upper 2'); UPDATE "ünï"."Tä" SET v = 'lower 1' WHERE id = 1;
       INSERT INTO "ünï".cols VALUES (2, 11, 21); UPDATE "ünï".cols SET "ä" = 22 WHERE id = 1`,
    );
    const again = await replicate('fold.duckdb', tables, 'n_fold');
    assert.equal(again.code, 0, again.stderr);
    await assertReplicaEquals(c.info, join(dir, 'fold.duckdb'), [
      { schema: 'Ünï', table: 'Tä' },
      { schema: 'ünï', table: 'Tä' },
      { schema: 'ünï', table: 'cols' },
    ]);
    const v = await runWalduck([
      'verify',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      join(dir, 'fold.duckdb'),
    ]);
    assert.equal(v.code, 0, `${v.stdout}\n${v.stderr}`);
    assert.match(v.stdout, /^EQUAL: 3 of 3 table\(s\) equal/m);
  });

  it('a table renamed only in case (rc to "RC") is followed', async () => {
    psql(c.info, `CREATE TABLE rc (id int PRIMARY KEY, v text); INSERT INTO rc VALUES (1, 'a')`);
    const first = await replicate('rc.duckdb', 'rc', 'n_rc');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `INSERT INTO rc VALUES (2, 'b'); ALTER TABLE rc RENAME TO "RC"; INSERT INTO "RC" VALUES (3, 'c')`,
    );
    const again = await replicate('rc.duckdb', 'public."RC"', 'n_rc');
    assert.equal(again.code, 0, again.stderr);
    await assertReplicaEquals(c.info, join(dir, 'rc.duckdb'), [{ schema: 'public', table: 'RC' }]);
  });
});
