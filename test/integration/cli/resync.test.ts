// resync of a table an online copy cannot read in key order (a bytea or date key, no key at all) is
// refused in one line and records nothing: it used to be recorded, and then every later replicate of
// the file stopped at start, for all its tables, with no way to take the request back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
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
});
