// Column types whose name format_type quotes: "char", a type named like a keyword (public."user"), a
// mixed-case type in public. wal2json writes such a type name without its outer quotes ("char" arrives
// as char), so a change of these tables must not look like a type change (it did: every streamed row
// of a "char" column stopped replication, resync advised). Also xml holding the default declaration,
// which the output function (what the replica stores) leaves out and the text cast keeps: verify must
// call them equal.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('quoted type names and xml', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-quoted-types-');
  const run = (args: readonly string[]) =>
    runWalduck([...args, '--source', conninfo(c.info, 'scram-sha-256')], {}, 120_000);
  const replicate = (file: string, slot: string, format: string) =>
    run([
      'replicate',
      '--duckdb',
      join(dir, file),
      '--tables',
      'q',
      '--slot',
      slot,
      '--format-version',
      format,
      '--until-caught-up',
    ]);

  it('streams "char", keyword-named and mixed-case types (v1 and v2), and verify says EQUAL', async () => {
    psql(
      c.info,
      `CREATE TYPE "user" AS ENUM ('u', 'v'); CREATE TYPE "Mood" AS ENUM ('ok');
       CREATE TABLE q (id int PRIMARY KEY, c "char", u "user", m "Mood", x xml, cs "char"[]);
       INSERT INTO q VALUES (1, 'a', 'u', 'ok', '<?xml version="1.0"?><r/>', '{a,b}')`,
    );
    for (const [file, slot, format] of [
      ['v2.duckdb', 'qt_v2', '2'],
      ['v1.duckdb', 'qt_v1', '1'],
    ] as const) {
      const first = await replicate(file, slot, format);
      assert.equal(first.code, 0, first.stderr);
    }
    psql(
      c.info,
      `INSERT INTO q VALUES (2, 'b', 'v', 'ok', '<?xml version="1.0"?><s/>', '{c}');
       UPDATE q SET c = 'z', u = 'v' WHERE id = 1; DELETE FROM q WHERE id = 2;
       INSERT INTO q VALUES (3, NULL, NULL, NULL, NULL, NULL)`,
    );
    for (const [file, slot, format] of [
      ['v2.duckdb', 'qt_v2', '2'],
      ['v1.duckdb', 'qt_v1', '1'],
    ] as const) {
      const again = await replicate(file, slot, format);
      assert.equal(again.code, 0, again.stderr);
      await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table: 'q' }]);
      const v = await run(['verify', '--duckdb', join(dir, file)]);
      assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
      assert.match(v.stdout, /public\.q: EQUAL, 2 rows/);
    }
  });

  it('streams types in a schema that needs quotes, which wal2json writes as broken JSON, also as a key, followed or not', async () => {
    // format_type prints "Sales".st and "Odd S"."My Enum"; wal2json writes such a name as it is (not
    // JSON): walduck reads it back to the catalog's text. Every replica of the database receives every
    // table's changes (to follow renames), so one such table anywhere used to stop all of them.
    psql(
      c.info,
      `CREATE SCHEMA "Sales"; CREATE TYPE "Sales".st AS ENUM ('new', 'old');
       CREATE SCHEMA "Odd S"; CREATE TYPE "Odd S"."My ""Enum""" AS ENUM ('x', 'y');
       CREATE TABLE "Sales".orders (s "Sales".st PRIMARY KEY, e "Odd S"."My ""Enum""", es "Sales".st[]);
       CREATE TABLE plain (id int PRIMARY KEY); INSERT INTO plain VALUES (1);
       INSERT INTO "Sales".orders VALUES ('new', 'x', '{new,old}')`,
    );
    const tables = ['"Sales".orders', 'plain'];
    const go = (file: string, slot: string, format: string, which: string) =>
      run(
        ['replicate', '--duckdb', join(dir, file), '--tables', which, '--slot', slot].concat([
          '--format-version',
          format,
          '--until-caught-up',
        ]),
      );
    const runs = [
      ['s2.duckdb', 'qs_v2', '2', tables.join(',')],
      ['s1.duckdb', 'qs_v1', '1', tables.join(',')],
      ['p2.duckdb', 'qs_p2', '2', 'plain'],
    ] as const;
    for (const [file, slot, format, which] of runs) {
      const first = await go(file, slot, format, which);
      assert.equal(first.code, 0, first.stderr);
    }
    psql(
      c.info,
      `UPDATE "Sales".orders SET e = 'y', es = '{old}' WHERE s = 'new';
       INSERT INTO "Sales".orders VALUES ('old', NULL, NULL); UPDATE "Sales".orders SET s = 'old' WHERE s = 'new' AND false;
       DELETE FROM "Sales".orders WHERE s = 'new'; INSERT INTO plain VALUES (2)`,
    );
    for (const [file, slot, format, which] of runs) {
      const again = await go(file, slot, format, which);
      assert.equal(again.code, 0, again.stderr);
      const v = await run(['verify', '--duckdb', join(dir, file)]);
      assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
    }
    await assertReplicaEquals(c.info, join(dir, 's2.duckdb'), [{ schema: 'Sales', table: 'orders' }]);
  });
});
