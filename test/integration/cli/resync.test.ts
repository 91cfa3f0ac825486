// resync of a table an online copy cannot read in key order (a bytea or date key, no key at all) is
// refused in one line and records nothing: it used to be recorded, and then every later replicate of
// the file stopped at start, for all its tables, with no way to take the request back.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { withDuckDb } from '../../../src/sink/duckdb-file.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('resync', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-resync-');

  it('refuses, recording nothing, a table an online copy cannot order by key', async () => {
    psql(
      c.info,
      `CREATE TABLE kb (id bytea PRIMARY KEY, v int); INSERT INTO kb VALUES ('\\x00', 1);
       CREATE TABLE kd (d date, n int, v int, PRIMARY KEY (d, n)); INSERT INTO kd VALUES ('2020-01-01', 1, 1);
       CREATE TABLE ok (id int PRIMARY KEY); INSERT INTO ok VALUES (1)`,
    );
    const file = join(dir, 'r.duckdb');
    const replicate = () =>
      runWalduck(
        [
          'replicate',
          '--source',
          conninfo(c.info, 'scram-sha-256'),
          '--duckdb',
          file,
          '--tables',
          'kb,kd,ok',
          '--slot',
          'rs',
          '--until-caught-up',
        ],
        {},
        120_000,
      );
    assert.equal((await replicate()).code, 0);
    for (const [table, type] of [
      ['public.kb', 'bytea'],
      ['public.kd', 'date'],
    ] as const) {
      const r = await runWalduck(['resync', '--duckdb', file, '--table', table]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0] ?? '',
        new RegExp(`${table} cannot be copied online.*nothing was recorded.*${type}`),
      );
    }
    const status = await runWalduck(['status', '--duckdb', file, '--json']);
    assert.deepEqual(
      status.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { state: string }).state),
      ['streaming', 'streaming', 'streaming'],
    );
    psql(c.info, "INSERT INTO kb VALUES ('\\x01', 2); INSERT INTO ok VALUES (2)");
    const again = await replicate();
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await runWalduck(['resync', '--duckdb', file, '--table', 'public.ok'])).code, 0);
  });

  // resync opens the file for writing: it used to create a missing file, and to add walduck.tables to
  // a DuckDB file that is no replica, before saying the table is not followed.
  it('refuses a missing file and a DuckDB file that is no replica, writing nothing', async () => {
    const missing = join(dir, 'missing.duckdb');
    let r = await runWalduck(['resync', '--duckdb', missing, '--table', 't']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^walduck: duckdb failed: DuckDB file .*missing\.duckdb does not exist\n$/);
    assert.equal(existsSync(missing), false);

    const other = join(dir, 'other.duckdb');
    await withDuckDb(other, false, (q) => q('CREATE TABLE t (id int)'));
    r = await runWalduck(['resync', '--duckdb', other, '--table', 't']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^walduck: duckdb failed: .*other\.duckdb has no walduck\.state table: it is not a walduck replica\n$/,
    );
    const schemas = await withDuckDb(other, true, (q) =>
      q(
        'SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_catalog = current_database()',
      ),
    );
    assert.deepEqual(schemas.rows, [['main']]);
  });
});
