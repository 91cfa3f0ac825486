// A table that joins the replica from its first change (all-tables mode: created while walduck was
// stopped, or while it runs) gets its recorded schema from the catalog as it is when walduck first
// looks, which can be past the table's first changes: `CREATE TABLE … AS` then `ALTER TABLE … ADD
// PRIMARY KEY` (what pg_restore does for every table), or a column added after the first rows. Those
// changes then do not fit the record. Before, walduck stopped on them under the default
// --on-type-change stop, and every restart stopped again; for a table created while it ran, the
// `walduck resync --table` its line named was refused too ("not in the table set"): no way out but a
// new replica. Such a table holds no rows in DuckDB but WAL's, so it is copied online instead.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a new table whose first changes are older than the catalog walduck read', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-new-table-ahead-');
  const args = (file: string, ...extra: string[]) => [
    'replicate',
    '--source',
    conninfo(c.info, 'scram-sha-256'),
    '--duckdb',
    join(dir, file),
    '--slot',
    file.replace('.duckdb', ''),
    '--batch-ms',
    '50',
    ...extra,
  ];

  it('created while walduck was stopped: copied online, not a stop on every start', async () => {
    psql(c.info, 'CREATE TABLE seed (id int PRIMARY KEY)');
    const first = await runWalduck(args('stopped.duckdb', '--until-caught-up'));
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `CREATE TABLE ctas AS SELECT g AS id, g::text AS v FROM generate_series(1, 10) g;
       ALTER TABLE ctas ADD PRIMARY KEY (id); DELETE FROM ctas WHERE id = 3;
       CREATE TABLE added (id int PRIMARY KEY, a text); INSERT INTO added VALUES (1, 'x');
       ALTER TABLE added ADD COLUMN b int DEFAULT 5; INSERT INTO added VALUES (2, 'y', 7)`,
    );
    const r = await runWalduck(args('stopped.duckdb', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /re-copying public\.ctas online/);
    assert.match(r.stderr, /re-copying public\.added online/);
    await assertReplicaEquals(c.info, join(dir, 'stopped.duckdb'), [
      { schema: 'public', table: 'ctas' },
      { schema: 'public', table: 'added' },
    ]);
  });

  it('created while walduck runs, its key added in the creating transaction: copied online', async () => {
    const run = startWatched(args('running.duckdb'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      // In one transaction: its INSERTs are decoded without a key, the catalog read after shows one.
      psql(
        c.info,
        `BEGIN; CREATE TABLE late (id int, v text); INSERT INTO late SELECT g, g::text FROM generate_series(1, 5) g;
         ALTER TABLE late ADD PRIMARY KEY (id); COMMIT;
         UPDATE late SET v = 'u' WHERE id = 2; DELETE FROM late WHERE id = 4`,
      );
      await run.waitFor(/re-copying public\.late online/);
      await run.waitFor(/online copy of public\.late: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
    } finally {
      run.child.kill('SIGINT');
    }
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'running.duckdb'), [{ schema: 'public', table: 'late' }]);
  });
});
