// Many tables joining an existing replica at once are copied online side by side: stderr holds
// walduck's own lines only (before, past 10 copies Node added a MaxListenersExceededWarning, two lines
// that were not walduck's), and every table ends streaming with its rows.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('online copy of many tables at once', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-copy-many-');
  const N = 12;
  const names = Array.from({ length: N }, (_, i) => `many.t${i + 1}`);
  const replicate = (tables: string) =>
    runWalduck(
      [
        'replicate',
        '--source',
        conninfo(c.info, 'scram-sha-256'),
        '--duckdb',
        join(dir, 'many.duckdb'),
        '--tables',
        tables,
        '--until-caught-up',
      ],
      {},
      120_000,
    );

  it(`copies ${N} joining tables with only walduck's lines on stderr`, async () => {
    psql(
      c.info,
      `CREATE SCHEMA many; ${names.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY); INSERT INTO ${t} SELECT generate_series(1, 30);`).join(' ')}`,
    );
    const first = await replicate(names[0] ?? '');
    assert.equal(first.code, 0, first.stderr);
    const r = await replicate(names.join(','));
    assert.equal(r.code, 0, r.stderr);
    const foreign = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('walduck'));
    assert.deepEqual(foreign, [], r.stderr);
    const status = await runWalduck(['status', '--duckdb', join(dir, 'many.duckdb'), '--json']);
    assert.equal(status.code, 0, status.stderr);
    const states = status.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { state: string }).state);
    assert.deepEqual(states, Array(N).fill('streaming'));
  });
});
