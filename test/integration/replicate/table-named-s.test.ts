// The set-based UPDATE names the staged rows `s` and qualifies the target's columns with its full
// name: for a source table named s (or S) with a column named like a staged one (_op, _c0, _k0, _mask)
// DuckDB found `"db"."main"."s"."id"` ambiguous between the table and the alias, and every start
// stopped at the table's first UPDATE with DuckDB's binder error (a crash loop). So did the fill of an
// added column with a per-row default (staged columns k0, v). The target now has an alias of its own.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('tables named like the statements’ aliases', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-table-s-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const tables = [
    { schema: 'public', table: 's' },
    { schema: 'public', table: 't' },
    { schema: 's', table: 'S' },
  ];
  const replicate = () => runWalduck([...args('x.duckdb', '--tables', 's,t,s."S"'), '--until-caught-up']);

  it('updates, deletes and an added column filled from the source apply', async () => {
    psql(
      c.info,
      `CREATE TABLE s (id int PRIMARY KEY, s int, t text, _op text, _c0 int, _k0 int, _mask text, v int, k0 int);
       CREATE TABLE t (id int PRIMARY KEY, s int, _op text);
       CREATE SCHEMA s; CREATE TABLE s."S" (id int PRIMARY KEY, v text, _c1 text);
       INSERT INTO s SELECT g, g, 'x', 'o', g, g, 'm', g, g FROM generate_series(1, 5) g;
       INSERT INTO t SELECT g, g, 'o' FROM generate_series(1, 5) g;
       INSERT INTO s."S" SELECT g, 'v', 'c' FROM generate_series(1, 5) g`,
    );
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `UPDATE s SET s = 0, t = 'u' WHERE id = 1; DELETE FROM s WHERE id = 2;
       UPDATE t SET s = 0 WHERE id = 1; DELETE FROM t WHERE id = 2;
       UPDATE s."S" SET v = 'u' WHERE id = 1; DELETE FROM s."S" WHERE id = 2;
       ALTER TABLE s ADD COLUMN r float8 DEFAULT random(); INSERT INTO s VALUES (9, 9, 'n', 'o', 9, 9, 'm', 9, 9, 0.5)`,
    );
    const r = await replicate();
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'x.duckdb'), tables);
  });
});
