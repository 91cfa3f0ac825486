// ADD COLUMN with a constant default was applied as DuckDB ADD COLUMN … DEFAULT CAST('…' AS T). DuckDB
// then refuses to commit a transaction that alters the table again and writes to it ("another
// transaction has altered this table"): two such columns (one ALTER TABLE … ADD a …, ADD b …, or two
// DDLs read in one batch) and a row stopped walduck, and every restart read the same batch again and
// stopped the same way (a crash loop). The rows already there now get the value by an UPDATE after the
// ALTERs, and the table counts as updated in the batch (a later ALTER rebuilds it).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('several columns added with constant defaults in one batch', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-add-defaults-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = (...extra: string[]) =>
    runWalduck([...args('ad.duckdb', '--tables', 'ad1,ad2'), '--until-caught-up', ...extra]);

  it('two in one ALTER, then later DDL in the same batch: applied, equal to the source', async () => {
    psql(
      c.info,
      `CREATE TABLE ad1 (id int PRIMARY KEY); INSERT INTO ad1 SELECT generate_series(1, 20);
       CREATE TABLE ad2 (id int PRIMARY KEY); INSERT INTO ad2 SELECT generate_series(1, 20)`,
    );
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `ALTER TABLE ad1 ADD COLUMN m int DEFAULT 5, ADD COLUMN t text DEFAULT 'x', ADD COLUMN a int[] DEFAULT '{1,NULL}';
       INSERT INTO ad1 VALUES (21, 1, 'y', '{2}');
       ALTER TABLE ad2 ADD COLUMN m numeric(5,2) DEFAULT 1.5; INSERT INTO ad2 VALUES (21, 2.25);
       ALTER TABLE ad2 ADD COLUMN d date DEFAULT '2020-01-02'; INSERT INTO ad2 VALUES (22, 3, '2021-01-01');
       ALTER TABLE ad2 RENAME COLUMN m TO "M"; UPDATE ad2 SET "M" = 0 WHERE id = 1`,
    );
    const r = await replicate();
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'ad.duckdb'), [
      { schema: 'public', table: 'ad1' },
      { schema: 'public', table: 'ad2' },
    ]);
  });
});
