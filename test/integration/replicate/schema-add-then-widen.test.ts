// ADD COLUMN c int DEFAULT 7 and then ALTER COLUMN c TYPE bigint, both committed before walduck read
// a row of the added column (walduck stopped over them, or the catalog simply ahead of the stream):
// the ALTER TYPE rewrote the table, which dropped the constant PostgreSQL kept for the rows that
// existed, and the catalog shows bigint where the stream shows integer. walduck stopped with "column c
// was added as integer and is bigint on the source now" and a resync, for two DDLs it follows one at
// a time. The rows that existed now take the values the source holds, read by key as the type added
// (the widening, seen at the next change that shows it, reads them again); a value that does not fit
// the type added (USING c * 10000000000, or an UPDATE streamed after the widening, which walduck
// cannot tell apart at the ADD) still stops, in one line (with --on-type-change recopy: re-copies).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a column added with a default, then widened, before walduck read it', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-add-widen-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = (t: string, ...extra: string[]) =>
    runWalduck([...args(`${t}.duckdb`, '--tables', t), '--until-caught-up', ...extra]);
  const start = async (t: string) => {
    psql(
      c.info,
      `CREATE TABLE ${t} (id int PRIMARY KEY, v text); INSERT INTO ${t} SELECT g, 'a' || g FROM generate_series(1, 5) g`,
    );
    const first = await replicate(t);
    assert.equal(first.code, 0, first.stderr);
  };
  const typeOf = async (t: string, col: string) =>
    (
      await duckQuery(
        join(dir, `${t}.duckdb`),
        `SELECT data_type FROM information_schema.columns WHERE table_name = '${t}' AND column_name = '${col}'`,
      )
    )[0]?.[0];

  it('int DEFAULT 7, then bigint, rows before, between and after: followed, equal', async () => {
    await start('aw1');
    psql(
      c.info,
      `INSERT INTO aw1 VALUES (6, 'before');
       ALTER TABLE aw1 ADD COLUMN c int DEFAULT 7;
       INSERT INTO aw1 VALUES (7, 'between'); INSERT INTO aw1 VALUES (8, 'between', 9);
       ALTER TABLE aw1 ALTER COLUMN c TYPE bigint;
       INSERT INTO aw1 VALUES (9, 'after', 5000000000); UPDATE aw1 SET c = 60 WHERE id = 1; INSERT INTO aw1 VALUES (10, 'after', 6000000000)`,
    );
    const r = await replicate('aw1');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'aw1.duckdb'), [{ schema: 'public', table: 'aw1' }]);
    assert.equal(await typeOf('aw1', 'c'), 'BIGINT');
  });

  it('ALTER … TYPE bigint USING c * 10 with no row after it: the rows that existed take the source values', async () => {
    await start('aw2');
    psql(
      c.info,
      `ALTER TABLE aw2 ADD COLUMN c int DEFAULT 7; INSERT INTO aw2 VALUES (7, 'between', 8);
       ALTER TABLE aw2 ALTER COLUMN c TYPE bigint USING c * 10`,
    );
    const r = await replicate('aw2');
    assert.equal(r.code, 0, r.stderr);
    // Row 7 keeps the 8 it was inserted with until a change of the table shows the widening (which
    // reads every row again); the rows that existed at the ADD were read from the source already.
    const rows = await duckQuery(join(dir, 'aw2.duckdb'), 'SELECT id, c FROM aw2 WHERE id <= 5 ORDER BY id');
    assert.deepEqual(
      rows.map((x) => x[1]),
      [70, 70, 70, 70, 70],
    );
  });

  it('varchar(5) DEFAULT, then varchar(10) (no rewrite, the constant kept): followed, equal', async () => {
    await start('aw3');
    psql(
      c.info,
      `ALTER TABLE aw3 ADD COLUMN c varchar(5) DEFAULT 'ab'; INSERT INTO aw3 VALUES (7, 'between');
       ALTER TABLE aw3 ALTER COLUMN c TYPE varchar(10); INSERT INTO aw3 VALUES (9, 'after', 'abcdefghi')`,
    );
    const r = await replicate('aw3');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'aw3.duckdb'), [{ schema: 'public', table: 'aw3' }]);
  });

  it('a rewritten value that does not fit the type added: stops in one line, nothing applied', async () => {
    await start('aw4');
    psql(
      c.info,
      `ALTER TABLE aw4 ADD COLUMN c int DEFAULT 7; INSERT INTO aw4 VALUES (7, 'between');
       ALTER TABLE aw4 ALTER COLUMN c TYPE bigint USING c * 10000000000`,
    );
    const r = await replicate('aw4');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /does not fit integer.*run walduck resync --table public\.aw4/);
    assert.deepEqual(await duckQuery(join(dir, 'aw4.duckdb'), 'SELECT count(*) FROM aw4'), [[5n]]);
  });

  it('a value that does not fit, with --on-type-change recopy: the table is copied again, equal', async () => {
    await start('aw5');
    psql(
      c.info,
      `ALTER TABLE aw5 ADD COLUMN c int DEFAULT 7; INSERT INTO aw5 VALUES (7, 'between');
       ALTER TABLE aw5 ALTER COLUMN c TYPE bigint USING c * 10000000000`,
    );
    const r = await replicate('aw5', '--on-type-change', 'recopy');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /does not fit integer.*re-copying public\.aw5 online/);
    await assertReplicaEquals(c.info, join(dir, 'aw5.duckdb'), [{ schema: 'public', table: 'aw5' }]);
    assert.equal(await typeOf('aw5', 'c'), 'BIGINT');
  });
});
