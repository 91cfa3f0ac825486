// A source transaction larger than --duckdb-memory-limit. One source transaction commits as one
// DuckDB transaction (exactly once), and DuckDB keeps what an UPDATE changes in memory until the
// commit, where inserted rows spill to disk. An UPDATE carrying the whole row is applied as DELETE
// plus INSERT, so it streams through; one whose image leaves a column out (unchanged TOAST) needs
// the row's other values and stays an UPDATE of the columns it carries: past the limit it fails on
// every restart, so the line must say so and name the way out (before, it blamed "(one of 7768
// rows)" of the batch). Values so large that 2048 rows pass the limit raise it (commit-window.ts).
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

  it('an UPDATE leaving unchanged TOAST out writes only the columns it carries, and past the limit stops with one line that names the limit, not a row', async () => {
    // Random text does not compress: stored out of line, and left out of an UPDATE that keeps it.
    psql(
      c.info,
      `CREATE TABLE upd (id bigint PRIMARY KEY, n int, v text, w text);
       INSERT INTO upd SELECT g, 0, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 100) i),
           (SELECT string_agg(md5(g::text || '/' || i), '') FROM generate_series(1, 100) i)
         FROM generate_series(1, 30000) g`,
    );
    const first = await run('upd.duckdb', 'upd', '--duckdb-memory-limit', '48MB');
    assert.equal(first.code, 0, first.stderr);
    // v and w left out: only n is written (it set v and w to themselves too, and stopped here).
    psql(c.info, 'UPDATE upd SET n = 1');
    const small = await run('upd.duckdb', 'upd', '--duckdb-memory-limit', '48MB');
    assert.equal(small.code, 0, small.stderr);
    await assertReplicaEquals(c.info, join(dir, 'upd.duckdb'), [{ schema: 'public', table: 'upd' }]);
    // v changes for every row, w is left out: 30000 new 3 kB values held until the commit.
    psql(c.info, "UPDATE upd SET v = v || 'x'");
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

  it('an UPDATE of whole rows streams through within the limit (DELETE plus INSERT)', async () => {
    bigUpdate('upd_todo');
    const first = await run('todo.duckdb', 'upd_todo', '--duckdb-memory-limit', '48MB');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "UPDATE upd_todo SET v = v || 'u'");
    const r = await run('todo.duckdb', 'upd_todo', '--duckdb-memory-limit', '48MB');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'todo.duckdb'), [{ schema: 'public', table: 'upd_todo' }]);
  });

  it('a transaction of large values whose one vector exceeds the limit commits (the limit raised for that commit, said once)', async () => {
    // 2100 rows of 24 kB: DuckDB's COMMIT holds 2048 of them (~50 MB) at once, past a 32MB pool.
    // Before, that COMMIT failed ("failed to pin block") at every restart.
    psql(c.info, 'CREATE TABLE wide_docs (id bigint PRIMARY KEY, doc text, n int)');
    const first = await run('docs.duckdb', 'wide_docs', '--duckdb-memory-limit', '32MB');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `INSERT INTO wide_docs SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 750) i), g
         FROM generate_series(1, 2100) g`,
    );
    const r = await run('docs.duckdb', 'wide_docs', '--duckdb-memory-limit', '32MB');
    assert.equal(r.code, 0, r.stderr);
    const raised = r.stderr.split('\n').filter((l) => /memory_limit was raised/.test(l));
    assert.equal(raised.length, 1, r.stderr);
    assert.match(
      raised[0] ?? '',
      /^walduck: warning: DuckDB's memory_limit was raised from 32MB to \d+ MiB for the transaction committed up to [0-9A-F]+\/[0-9A-F]+: .*2048 rows of public\.wide_docs in it held up to \d+ MiB/,
    );
    // A small change after it needs no raise.
    psql(c.info, 'UPDATE wide_docs SET n = n + 1 WHERE id = 1');
    const next = await run('docs.duckdb', 'wide_docs', '--duckdb-memory-limit', '32MB');
    assert.equal(next.code, 0, next.stderr);
    assert.doesNotMatch(next.stderr, /memory_limit was raised/);
    await assertReplicaEquals(c.info, join(dir, 'docs.duckdb'), [{ schema: 'public', table: 'wide_docs' }]);
  });

  for (const [table, arrays] of [
    ['docs_csv', ''],
    ['docs_text', ', tags int[]'],
  ] as const)
    it(`the initial snapshot of such values commits too (${arrays ? 'COPY text rows' : 'CSV segments'})`, async () => {
      // The same vector of ~50 MB in the snapshot's one transaction; a table with an array column
      // takes the parsed COPY text path instead of the CSV segments.
      psql(
        c.info,
        `CREATE TABLE ${table} (id bigint PRIMARY KEY, doc text${arrays});
         INSERT INTO ${table} (id, doc) SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 750) i)
           FROM generate_series(1, 2100) g`,
      );
      const r = await run(`${table}.duckdb`, table, '--duckdb-memory-limit', '32MB');
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`memory_limit was raised from 32MB .* 2048 rows of public\\.${table} `),
      );
      await assertReplicaEquals(c.info, join(dir, `${table}.duckdb`), [{ schema: 'public', table }]);
    });
});
