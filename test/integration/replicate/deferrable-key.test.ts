// A DEFERRABLE primary key is no replica identity: PostgreSQL's relcache ignores non-immediate
// indexes for it, so under REPLICA IDENTITY DEFAULT an UPDATE or DELETE logs no old row (wal2json
// drops it with a WARNING), and wal2json's "pk" is empty. Before, walduck took such a key as the
// table's identity: the table was accepted (named or in all-tables mode) and copied, and its first
// UPDATE stopped replication with advice that did not help (REPLICA IDENTITY DEFAULT, which it had);
// under REPLICA IDENTITY FULL every change stopped as "its primary key changed from (id) to ()", on
// every restart.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a table whose primary key is DEFERRABLE', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-deferrable-key-');
  const replicate = (file: string, ...extra: string[]) =>
    runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      join(dir, file),
      '--slot',
      file.replace('.duckdb', ''),
      '--until-caught-up',
      ...extra,
    ]);

  it('under REPLICA IDENTITY DEFAULT: refused when named, left out with a warning otherwise', async () => {
    psql(
      c.info,
      `CREATE TABLE dk (id int PRIMARY KEY DEFERRABLE, v text); INSERT INTO dk VALUES (1, 'a');
       CREATE TABLE plain (id int PRIMARY KEY); INSERT INTO plain VALUES (1)`,
    );
    const named = await replicate('named.duckdb', '--tables', 'dk');
    assert.equal(named.code, 1, named.stderr);
    const lines = named.stderr.trim().split('\n');
    assert.equal(lines.length, 1, named.stderr);
    assert.match(lines[0] ?? '', /public\.dk .*DEFERRABLE.*REPLICA IDENTITY FULL/);
    const all = await replicate('all.duckdb');
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stderr, /not replicating public\.dk\b.*DEFERRABLE/);
    psql(c.info, 'DROP TABLE dk');
  });

  it('under REPLICA IDENTITY FULL: followed as a table without a key, key swaps included', async () => {
    psql(
      c.info,
      `CREATE TABLE dkf (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v text);
       ALTER TABLE dkf REPLICA IDENTITY FULL; INSERT INTO dkf SELECT g, 'v' || g FROM generate_series(1, 5) g`,
    );
    const first = await replicate('full.duckdb', '--tables', 'dkf');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `UPDATE dkf SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
       UPDATE dkf SET v = 'u' WHERE id = 3; DELETE FROM dkf WHERE id = 4; INSERT INTO dkf VALUES (6, 'six')`,
    );
    const r = await replicate('full.duckdb', '--tables', 'dkf');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'full.duckdb'), [{ schema: 'public', table: 'dkf' }]);
  });
});
