// Open bug, kept as a todo test (it fails today, which node:test reports without failing the run):
// a column filled from the source (a widening ALTER … TYPE of a non-key column, timestamp ->
// timestamptz, an ADD COLUMN with a per-row default) takes the value the source holds NOW for each
// key, at the change's place in the stream. A primary-key UPDATE streamed after that place which
// leaves the filled column out (an unchanged TOASTed value: wal2json omits it) moves the row to its
// new key with the value DuckDB holds, which was read for the OLD key from whichever row has that key
// now. `UPDATE SET id = 3 WHERE id = 1; UPDATE SET id = 1 WHERE id = 2` after `ALTER s TYPE text`
// leaves row 3 with row 2's text, exit 0; only `walduck verify` finds it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a filled column and keys moved after the fill point', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-fill-key-move-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = () => runWalduck([...args('fk.duckdb', '--tables', 'fk'), '--until-caught-up']);

  it('a TOASTed value left out of a key UPDATE keeps its row', {
    todo: 'fill-from-source matches by key at read time, not by row at the stream position',
  }, async () => {
    psql(
      c.info,
      `CREATE TABLE fk (id int PRIMARY KEY, s varchar(100000), n int);
       ALTER TABLE fk ALTER COLUMN s SET STORAGE EXTERNAL;
       INSERT INTO fk VALUES (1, repeat('A', 5000), 1), (2, repeat('B', 5000), 2), (4, 'small', 4)`,
    );
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `ALTER TABLE fk ALTER COLUMN s TYPE text; UPDATE fk SET n = 0 WHERE id = 4;
       UPDATE fk SET id = 3 WHERE id = 1; UPDATE fk SET id = 1 WHERE id = 2`,
    );
    const r = await replicate();
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'fk.duckdb'), [{ schema: 'public', table: 'fk' }]);
  });
});
