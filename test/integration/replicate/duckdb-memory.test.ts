// A source transaction whose UPDATEs DuckDB cannot hold within --duckdb-memory-limit. DuckDB keeps
// what an UPDATE changes in memory until the commit (inserted rows spill to disk), and one source
// transaction commits as one DuckDB transaction: with the default 128MB, one UPDATE of 600k rows of
// 200 bytes fails. It fails again on every restart, so the line must say so and name the way out;
// before, it blamed "(one of 7768 rows)" of the batch. Here a 48MB limit and 60k rows of 400 bytes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const dir = useWorkdir('walduck-duckdb-memory-');

describe('a source transaction larger than DuckDB’s memory limit', () => {
  const c = useCluster();
  const run = (file: string, table: string, ...extra: string[]) =>
    runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      join(dir, file),
      '--tables',
      table,
      '--slot',
      table,
      '--until-caught-up',
      ...extra,
    ]);

  function bigUpdate(table: string): void {
    psql(
      c.info,
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, v text);
       INSERT INTO ${table} SELECT g, repeat('y', 400) || g FROM generate_series(1, 60000) g`,
    );
  }

  it('stops with one line that names the limit as the way out, not a row', async () => {
    bigUpdate('upd');
    const first = await run('upd.duckdb', 'upd', '--duckdb-memory-limit', '48MB');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "UPDATE upd SET v = v || 'u'");
    const r = await run('upd.duckdb', 'upd', '--duckdb-memory-limit', '48MB');
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /^walduck: apply failed: cannot apply a row \(table public\.upd, LSN [0-9A-F]+\/[0-9A-F]+\): DuckDB ran out of memory holding this source transaction \(Out of Memory Error: .*\): .*raise --duckdb-memory-limit/,
    );
    assert.doesNotMatch(r.stderr, /one of \d+ rows/);
    // Nothing was acknowledged: with room, the same transaction applies.
    const more = await run('upd.duckdb', 'upd', '--duckdb-memory-limit', '1GB');
    assert.equal(more.code, 0, more.stderr);
    await assertReplicaEquals(c.info, join(dir, 'upd.duckdb'), [{ schema: 'public', table: 'upd' }]);
  });

  it('streams through within the limit (needs UPDATEs that spill, or a source transaction committed in parts)', {
    todo: 'DuckDB holds an UPDATE in memory until COMMIT; see the report of sweep30a',
  }, async () => {
    bigUpdate('upd_todo');
    const first = await run('todo.duckdb', 'upd_todo', '--duckdb-memory-limit', '48MB');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "UPDATE upd_todo SET v = v || 'u'");
    const r = await run('todo.duckdb', 'upd_todo', '--duckdb-memory-limit', '48MB');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'todo.duckdb'), [{ schema: 'public', table: 'upd_todo' }]);
  });
});
