// A table's replica identity changed on the source (ALTER TABLE … REPLICA IDENTITY USING INDEX of
// another unique index): wal2json then identifies the rows of UPDATE and DELETE by other columns than
// the recorded key. Before, the stage stopped with "restart walduck to re-read the catalog", and every
// restart stopped at the same change (a crash loop the advice could not end); --on-type-change recopy
// was not honoured. Now it is a schema change like a changed primary key: one line naming the table, the
// LSN and `walduck resync --table`, or with recopy the table copied again online.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a replica identity changed while replicating', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-schema-identity-');
  const replicate = (file: string, table: string, ...extra: string[]) =>
    runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      join(dir, file),
      '--slot',
      `s_${table}`,
      '--tables',
      table,
      '--until-caught-up',
      ...extra,
    ]);
  const setUp = (t: string) =>
    psql(
      c.info,
      `CREATE TABLE ${t} (id int PRIMARY KEY, code text NOT NULL UNIQUE, v int);
       INSERT INTO ${t} SELECT g, 'c' || g, g FROM generate_series(1, 5) g`,
    );
  const change = (t: string) =>
    psql(
      c.info,
      `ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${t}_code_key;
       UPDATE ${t} SET v = 0 WHERE id = 3; UPDATE ${t} SET id = id + 100 WHERE id = 1;
       DELETE FROM ${t} WHERE id = 2`,
    );

  for (const version of ['1', '2']) {
    it(`format-version ${version}: stops in one line naming resync, also on restart; resync heals`, async () => {
      const t = `ri_stop_v${version}`;
      setUp(t);
      const first = await replicate(`${t}.duckdb`, t, '--format-version', version);
      assert.equal(first.code, 0, first.stderr);
      change(t);
      for (let run = 0; run < 2; run++) {
        const r = await replicate(`${t}.duckdb`, t, '--format-version', version);
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.includes('does not report TRUNCATE'));
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0] ?? '',
          new RegExp(
            `schema change on public\\.${t} at LSN .*replica identity.*walduck resync --table public\\.${t}`,
          ),
        );
      }
      const resync = await runWalduck([
        'resync',
        '--duckdb',
        join(dir, `${t}.duckdb`),
        '--table',
        `public.${t}`,
      ]);
      assert.equal(resync.code, 0, resync.stderr);
      const healed = await replicate(`${t}.duckdb`, t, '--format-version', version);
      assert.equal(healed.code, 0, healed.stderr);
      await assertReplicaEquals(c.info, join(dir, `${t}.duckdb`), [{ schema: 'public', table: t }]);
    });
  }

  it('a keyless table given a primary key: the line names the way out that works (resync cannot copy it)', async () => {
    const t = 'ri_keyless';
    psql(
      c.info,
      `CREATE TABLE ${t} (id int NOT NULL, v int); ALTER TABLE ${t} REPLICA IDENTITY FULL;
       INSERT INTO ${t} SELECT g, g FROM generate_series(1, 5) g`,
    );
    const first = await replicate(`${t}.duckdb`, t);
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `ALTER TABLE ${t} ADD PRIMARY KEY (id); UPDATE ${t} SET v = 0 WHERE id = 3`);
    const r = await replicate(`${t}.duckdb`, t);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /primary key changed from \(\) to \(id\).*new DuckDB file/);
    // What the line used to advise is refused: the table is recorded without a key.
    assert.doesNotMatch(r.stderr, /walduck resync/);
    const resync = await runWalduck([
      'resync',
      '--duckdb',
      join(dir, `${t}.duckdb`),
      '--table',
      `public.${t}`,
    ]);
    assert.notEqual(resync.code, 0, resync.stderr);
  });

  it('--on-type-change recopy copies the table again online and goes on', async () => {
    const t = 'ri_recopy';
    setUp(t);
    const first = await replicate(`${t}.duckdb`, t);
    assert.equal(first.code, 0, first.stderr);
    change(t);
    const r = await replicate(`${t}.duckdb`, t, '--on-type-change', 'recopy');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /replica identity.*re-copying public\.ri_recopy online/);
    psql(c.info, `UPDATE ${t} SET v = 9 WHERE id = 4; DELETE FROM ${t} WHERE id = 5`);
    const after = await replicate(`${t}.duckdb`, t, '--on-type-change', 'recopy');
    assert.equal(after.code, 0, after.stderr);
    await assertReplicaEquals(c.info, join(dir, `${t}.duckdb`), [{ schema: 'public', table: t }]);
  });
});
