// A table without a key (REPLICA IDENTITY FULL) is matched by every column of the old row. wal2json
// prints NaN and ±Infinity of real, double precision and numeric as null, so an UPDATE or DELETE of a
// row holding one (copied exactly by the snapshot) names a row DuckDB does not have: it changes nothing
// there. walduck warned, but blamed --no-snapshot or a hand edit, neither of which the user did; the
// warning now names the float or numeric columns that may hold such a value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a keyless table whose row holds NaN', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-keyless-nan-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = () => runWalduck([...args('kn.duckdb', '--tables', 'kn'), '--until-caught-up']);

  it('an UPDATE that finds no row says NaN or Infinity may be why, naming the columns', async () => {
    psql(
      c.info,
      `CREATE TABLE kn (a int, d float8, r real, n numeric, t text); ALTER TABLE kn REPLICA IDENTITY FULL;
       INSERT INTO kn VALUES (1, 'NaN', 1, 1, 'x'), (2, 1.5, 1, 1, 'y')`,
    );
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, 'UPDATE kn SET a = 10 WHERE a = 1');
    const r = await replicate();
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.kn no longer equals the source: a UPDATE changed 0 row\(s\).*NaN.*d, r, n\b/,
    );
  });
});
