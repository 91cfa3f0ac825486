// ALTER COLUMN … TYPE … USING expr: PostgreSQL rewrites every row with the expression, and nothing of
// it reaches WAL or any catalog. walduck followed a widening (int -> bigint, varchar(n) -> text,
// numeric(p,s) -> numeric(p',s)) by casting the values DuckDB held, so `USING c * 1000` or
// `USING upper(s)` left every existing row with its old value, exit 0, only `walduck verify` could tell.
// The rows already there now take the values the source holds, read by key (as an added column with a
// per-row default); changes streamed after the ALTER overwrite them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a widening type change with a USING expression', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-schema-using-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const create = (t: string) =>
    psql(
      c.info,
      `CREATE TABLE ${t} (id int PRIMARY KEY, c int, s varchar(5), n numeric(5,2));
       INSERT INTO ${t} SELECT g, g, 'ab' || g, g + 0.25 FROM generate_series(1, 30) g`,
    );
  const alter = (t: string) =>
    `ALTER TABLE ${t} ALTER COLUMN c TYPE bigint USING c * 1000;
     ALTER TABLE ${t} ALTER COLUMN s TYPE text USING upper(s);
     ALTER TABLE ${t} ALTER COLUMN n TYPE numeric(8,2) USING n + 100;
     INSERT INTO ${t} VALUES (40, 40, 'new', 1.5); UPDATE ${t} SET s = 'upd' WHERE id = 2; DELETE FROM ${t} WHERE id = 3`;

  it('walduck stopped over the ALTER: the rows take the source values', async () => {
    create('us1');
    const first = await runWalduck([...args('us1.duckdb', '--tables', 'us1'), '--until-caught-up']);
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, alter('us1'));
    const r = await runWalduck([...args('us1.duckdb', '--tables', 'us1'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'us1.duckdb'), [{ schema: 'public', table: 'us1' }]);
  });

  it('walduck stopped over two ALTERs of one column: the catalog is ahead of the stream', async () => {
    create('us3');
    const first = await runWalduck([...args('us3.duckdb', '--tables', 'us3'), '--until-caught-up']);
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `ALTER TABLE us3 ALTER COLUMN s TYPE varchar(10) USING s || '!'; INSERT INTO us3 VALUES (50, 1, 'mid', 1);
       ALTER TABLE us3 ALTER COLUMN s TYPE text USING upper(s); INSERT INTO us3 VALUES (51, 1, 'after', 1)`,
    );
    const r = await runWalduck([...args('us3.duckdb', '--tables', 'us3'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'us3.duckdb'), [{ schema: 'public', table: 'us3' }]);
  });

  it('walduck running, each ALTER in its own transaction with rows after it', {
    timeout: 120_000,
  }, async () => {
    create('us2');
    const run = startWatched(args('us2.duckdb', '--tables', 'us2'), 'walduck:replicate');
    await run.waitFor(/streaming from slot/);
    psql(c.info, alter('us2'));
    await run.waitFor(/ALTER COLUMN n TYPE numeric\(8,2\)/);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const after = await runWalduck([...args('us2.duckdb', '--tables', 'us2'), '--until-caught-up']);
    assert.equal(after.code, 0, after.stderr);
    await assertReplicaEquals(c.info, join(dir, 'us2.duckdb'), [{ schema: 'public', table: 'us2' }]);
  });
});
