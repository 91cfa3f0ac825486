// A table without a key (REPLICA IDENTITY FULL) has its UPDATEs and DELETEs applied to one of the equal
// rows by DuckDB's rowid. A source column named rowid (any case) hides that pseudo-column in DuckDB,
// and there is no other name for it: the statement then matched the column's values, and an UPDATE
// of one row changed every row whose rowid column held the same number, exit 0 with a warning that
// blamed a hand edit. Such a change now stops in one line naming the way out (a new replica: a keyless
// table cannot be copied again online); inserts still apply.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a keyless table with a column named rowid', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-keyless-rowid-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = () => runWalduck([...args('rw.duckdb', '--tables', 'rw'), '--until-caught-up']);

  it('inserts apply; an UPDATE stops in one line instead of changing other rows', async () => {
    psql(
      c.info,
      `CREATE TABLE rw ("RowId" int, v text); ALTER TABLE rw REPLICA IDENTITY FULL;
       INSERT INTO rw VALUES (1, 'a'), (1, 'b'), (5, 'd')`,
    );
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `INSERT INTO rw VALUES (7, 'e')`);
    const inserted = await replicate();
    assert.equal(inserted.code, 0, inserted.stderr);
    psql(c.info, `UPDATE rw SET v = 'B' WHERE v = 'b'`);
    const r = await replicate();
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /public\.rw .*RowId.*rowid.*new DuckDB file/);
    assert.deepEqual(await duckQuery(join(dir, 'rw.duckdb'), 'SELECT v FROM rw ORDER BY v'), [
      ['a'],
      ['b'],
      ['d'],
      ['e'],
    ]);
  });
});
