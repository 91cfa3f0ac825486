// A partition attached from a table of its own may hold the root's columns in another physical
// order (and a dropped column); wal2json lists a leaf's change in the leaf's order. walduck read that
// order as the root's: two text columns in swapped places were taken for a swap by RENAME, and the
// rows of that leaf landed with x and y exchanged, exit 0. Compared with PostgreSQL row for row, with
// changes of every kind (moves between leaves, key updates, an ADD and a DROP COLUMN on the root).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-part-order-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const PO = { schema: 'public', table: 'po' };

it('leaves with the columns in another order than the root: rows land in the right columns', async () => {
  psql(
    c.info,
    `CREATE TABLE po (id int, region int, x text, y text, n numeric(10,2), PRIMARY KEY (id, region)) PARTITION BY RANGE (region);
     CREATE TABLE po_a PARTITION OF po FOR VALUES FROM (0) TO (100);
     CREATE TABLE po_b (junk int, id int NOT NULL, n numeric(10,2), region int NOT NULL, y text, x text);
     ALTER TABLE po_b DROP COLUMN junk;
     INSERT INTO po_b VALUES (5000, 1.5, 150, 'pre-y', 'pre-x');
     ALTER TABLE po ATTACH PARTITION po_b FOR VALUES FROM (100) TO (200);
     CREATE TABLE po_c (y text, x text, n numeric(10,2), region int NOT NULL, id int NOT NULL);
     ALTER TABLE po ATTACH PARTITION po_c FOR VALUES FROM (200) TO (300);
     INSERT INTO po SELECT g, g % 300, 'x' || g, 'y' || g, g / 3.0 FROM generate_series(1, 30) g;`,
  );
  const replicate = () => runWalduck([...args('o.duckdb', '--tables', 'public.po'), '--until-caught-up']);
  const first = await replicate();
  assert.equal(first.code, 0, first.stderr);
  psql(
    c.info,
    `INSERT INTO po VALUES (2000, 199, 'xb', 'yb', 1), (2001, 5, 'xa', 'ya', 2), (2002, 250, 'xc', 'yc', 3);
     UPDATE po SET x = x || '!' WHERE id % 3 = 0;
     DELETE FROM po WHERE id % 5 = 0;
     UPDATE po SET region = region + 100 WHERE id % 7 = 0 AND region < 200;
     UPDATE po SET id = id + 100 WHERE id % 11 = 0;`,
  );
  const second = await replicate();
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /RENAME COLUMN/);
  await assertReplicaEquals(c.info, join(dir, 'o.duckdb'), [PO]);
  psql(
    c.info,
    `ALTER TABLE po ADD COLUMN z int DEFAULT 42;
     INSERT INTO po VALUES (3000, 150, 'a', 'b', 1, 7), (3001, 250, 'c', 'd', 1, 8);
     UPDATE po SET y = 'after-add' WHERE id % 2 = 0;
     ALTER TABLE po DROP COLUMN n;
     INSERT INTO po VALUES (3002, 50, 'e', 'f', 9), (3003, 260, 'g', 'h', 10);
     DELETE FROM po WHERE id % 13 = 0;`,
  );
  const third = await replicate();
  assert.equal(third.code, 0, third.stderr);
  await assertReplicaEquals(c.info, join(dir, 'o.duckdb'), [PO]);
});
