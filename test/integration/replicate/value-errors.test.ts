// A value walduck cannot store stops replication with one line naming the table, column, key and LSN,
// but never the value itself: stderr ends up in logs that are kept and shared, and rows may hold
// personal data. --debug-values adds the value, for the person debugging (issue 17).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const dir = useWorkdir('walduck-value-errors-');

describe('value errors name the row, not the value, unless --debug-values', () => {
  const c = useCluster();
  const run = (file: string, table: string, slot: string, ...extra: string[]) =>
    runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      join(dir, file),
      '--tables',
      table,
      '--slot',
      slot,
      '--until-caught-up',
      ...extra,
    ]);

  /** The one line of a failed run: where, and not `secret`; with --debug-values, `secret` too. */
  async function assertHidden(
    again: (...extra: string[]) => ReturnType<typeof run>,
    where: RegExp,
    secret: string,
  ): Promise<void> {
    const r = await again();
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', where);
    assert.ok(!r.stderr.includes(secret), `the value is on stderr without --debug-values: ${r.stderr}`);
    // Nothing was acknowledged past it: the same change fails again, now showing the value.
    const shown = await again('--debug-values');
    assert.equal(shown.code, 1, shown.stderr);
    assert.match(shown.stderr, where);
    assert.ok(shown.stderr.includes(secret), `--debug-values shows the value: ${shown.stderr}`);
  }

  it('a timestamp past DuckDB’s range (walduck’s own check), streamed', async () => {
    psql(c.info, 'CREATE TABLE far (id int PRIMARY KEY, ts timestamp)');
    const first = await run('far.duckdb', 'far', 'far_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "INSERT INTO far VALUES (7, '294270-01-01 00:00:00')");
    await assertHidden(
      (...extra) => run('far.duckdb', 'far', 'far_slot', ...extra),
      /table public\.far, column ts, key \(id\) = \("7"\), LSN [0-9A-F]+\/[0-9A-F]+\): the timestamp is after DuckDB's last TIMESTAMP/,
      '294270',
    );
  });

  it('a value DuckDB’s own cast refuses, streamed and copied', async () => {
    // PostgreSQL's json keeps a lone surrogate escape as text; DuckDB's JSON cast refuses it, and its
    // message quotes the whole document. A list of them is cast (refused, copied or streamed alike).
    const doc = '{"name": "s3cr3t-person \\ud800"}';
    psql(c.info, 'CREATE TABLE docs (id int PRIMARY KEY, j json[])');
    const first = await run('docs.duckdb', 'docs', 'docs_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `INSERT INTO docs VALUES (3, ARRAY['${doc}']::json[])`);
    await assertHidden(
      (...extra) => run('docs.duckdb', 'docs', 'docs_slot', ...extra),
      /table public\.docs, column j, key \(id\) = \("3"\), LSN [0-9A-F]+\/[0-9A-F]+\): DuckDB refused the write/,
      's3cr3t-person',
    );
    psql(
      c.info,
      `CREATE TABLE docs2 (id int PRIMARY KEY, j json[]); INSERT INTO docs2 VALUES (3, ARRAY['${doc}']::json[])`,
    );
    await assertHidden(
      (...extra) => run('docs2.duckdb', 'docs2', 'docs2_slot', ...extra),
      /table public\.docs2, column j, key \(id\) = \("3"\), snapshot at LSN [0-9A-F]+\/[0-9A-F]+\): DuckDB refused the write/,
      's3cr3t-person',
    );
    // A plain json column holds the text as it is, copied (it used to stop the snapshot's CSV load)
    // as streamed (the Appender stores it unchecked): json-text.test.ts covers every path.
    psql(c.info, `CREATE TABLE doc1 (id int PRIMARY KEY, j json); INSERT INTO doc1 VALUES (4, '${doc}')`);
    const copied = await run('doc1.duckdb', 'doc1', 'doc1_slot');
    assert.equal(copied.code, 0, copied.stderr);
    psql(c.info, `INSERT INTO doc1 VALUES (5, '${doc}')`);
    const streamed = await run('doc1.duckdb', 'doc1', 'doc1_slot');
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.deepEqual(
      await duckQuery(join(dir, 'doc1.duckdb'), 'SELECT id, CAST(j AS VARCHAR) FROM doc1 ORDER BY id'),
      [
        [4, doc],
        [5, doc],
      ],
    );
  });

  it('a copied table with lists names the row at fault, not the first of the batch', async () => {
    // Its rows go as PostgreSQL's text, prepared (lists into JSON) before DuckDB sees them: the
    // diagnosis cast the raw text, which no list cast reads, and blamed row 1.
    psql(
      c.info,
      "CREATE TABLE nanlist (id int PRIMARY KEY, a numeric(10,2)[]); INSERT INTO nanlist VALUES (1, '{1.5}'), (2, '{2,NaN}'), (3, '{3}')",
    );
    await assertHidden(
      (...extra) => run('nanlist.duckdb', 'nanlist', 'nanlist_slot', ...extra),
      /table public\.nanlist, column a, key \(id\) = \("2"\), snapshot at LSN [0-9A-F]+\/[0-9A-F]+\): a NaN or ±Infinity element arrived for a DECIMAL\(10,2\)\[\] column; .*declare the column plain numeric\[\]/,
      '[value: NaN]',
    );
  });

  it('a NaN element of a numeric(p,s)[] column, streamed, stops in the line a scalar NaN gets', async () => {
    // PostgreSQL allows NaN in a numeric(p,s) array; a DECIMAL list cannot hold it. Before, DuckDB's
    // own refusal was the line: no column, and "(one of N rows)" when the batch held several.
    psql(
      c.info,
      "CREATE TABLE nanlive (id int PRIMARY KEY, a numeric(10,2)[]); INSERT INTO nanlive VALUES (1, '{1.5}')",
    );
    const first = await run('nanlive.duckdb', 'nanlive', 'nanlive_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "INSERT INTO nanlive VALUES (2, '{2}'), (3, '{3,NaN}'), (4, '{4}')");
    for (let i = 0; i < 2; i++) {
      // Twice: nothing past it was acknowledged, so the same change stops the next start too.
      const r = await run('nanlive.duckdb', 'nanlive', 'nanlive_slot');
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0] ?? '',
        /table public\.nanlive, column a, key \(id\) = \("3"\), LSN [0-9A-F]+\/[0-9A-F]+\): a NaN or ±Infinity element arrived for a DECIMAL\(10,2\)\[\] column; /,
      );
    }
  });

  it('an unconstrained numeric key beyond 15 significant digits under DOUBLE, streamed and copied', async () => {
    // Before, 1.00000000000000001 and 1.00000000000000002 both became DOUBLE 1: a DELETE of one removed
    // both rows in DuckDB, exit 0 with an "unmatched" warning (found by the sweep of stop 29). A key
    // names the row, so this line shows it, as every row error does.
    psql(
      c.info,
      'CREATE TABLE nk (id numeric PRIMARY KEY, v int); INSERT INTO nk VALUES (1.5, 1), (123456789012345, 2)',
    );
    const oneLine = async (file: string, slot: string, where: RegExp) => {
      const r = await run(file, 'nk', slot);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', where);
    };
    const first = await run('nk.duckdb', 'nk', 'nk_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, 'INSERT INTO nk VALUES (1.00000000000000001, 3), (1.00000000000000002, 4)');
    const why = 'the numeric key value has 18 significant digits: a DOUBLE keeps 15 exactly';
    await oneLine(
      'nk.duckdb',
      'nk_slot',
      new RegExp(
        `table public\\.nk, column id, key \\(id\\) = \\("1\\.00000000000000001"\\), LSN [0-9A-F/]+\\): ${why}`,
      ),
    );
    await oneLine(
      'nk-copy.duckdb',
      'nk_copy_slot',
      new RegExp(
        `table public\\.nk, column id, key \\(id\\) = \\("1\\.0000000000000000[12]"\\), snapshot at LSN [0-9A-F/]+\\): ${why}`,
      ),
    );
    // --numeric exact keeps every digit: the same rows replicate, each its own key.
    const exact = await run('nk-exact.duckdb', 'nk', 'nk_exact_slot', '--numeric', 'exact');
    assert.equal(exact.code, 0, exact.stderr);
  });

  it('an array whose lower bound is not 1, streamed and copied (a DuckDB list would drop the bounds)', async () => {
    // Before, '[0:1]={…}' was stored as the list of its elements: another value, silently, and verify
    // (which compares element counts and elements) called it EQUAL.
    psql(c.info, "CREATE TABLE bounds (id int PRIMARY KEY, a int[]); INSERT INTO bounds VALUES (1, '{1,2}')");
    const first = await run('bounds.duckdb', 'bounds', 'bounds_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "INSERT INTO bounds VALUES (2, '[0:1]={4710,4711}')");
    await assertHidden(
      (...extra) => run('bounds.duckdb', 'bounds', 'bounds_slot', ...extra),
      /table public\.bounds, column a, key \(id\) = \("2"\), LSN [0-9A-F]+\/[0-9A-F]+\): an array whose lower bound is not 1.*the slot delivers it again/,
      '4711',
    );
    await assertHidden(
      (...extra) => run('bounds-copy.duckdb', 'bounds', 'bounds_copy_slot', ...extra),
      /table public\.bounds, column a, key \(id\) = \("2"\), snapshot at LSN [0-9A-F]+\/[0-9A-F]+\): an array whose lower bound is not 1.*: fix the row on the source or leave the table out of --tables, then run again/,
      '4711',
    );
  });

  it('an array value whose dimensions are not the column’s, streamed and copied', async () => {
    // PostgreSQL does not enforce attndims. Before, a text[] column's 2-D value was stored as the
    // JSON text of its inner arrays, and an int[][] column's 1-D value as a list of NULLs: exit 0.
    psql(
      c.info,
      "CREATE TABLE dims (id int PRIMARY KEY, t text[], i2 int[][]); INSERT INTO dims VALUES (1, '{a}', '{{1}}')",
    );
    const first = await run('dims.duckdb', 'dims', 'dims_slot');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, "INSERT INTO dims VALUES (2, '{{s3cr3t,b},{c,d}}', '{{1}}')");
    await assertHidden(
      (...extra) => run('dims.duckdb', 'dims', 'dims_slot', ...extra),
      /table public\.dims, column t, key \(id\) = \("2"\), LSN [0-9A-F]+\/[0-9A-F]+\): an array value whose dimensions are not the column's 1.*the slot delivers it again/,
      's3cr3t',
    );
    psql(c.info, "DELETE FROM dims WHERE id = 2; INSERT INTO dims VALUES (3, '{x}', '{4710,4711}')");
    await assertHidden(
      (...extra) => run('dims-copy.duckdb', 'dims', 'dims_copy_slot', ...extra),
      /table public\.dims, column i2, key \(id\) = \("3"\), snapshot at LSN [0-9A-F]+\/[0-9A-F]+\): an array value whose dimensions are not the column's 2.*: fix the row on the source or leave the table out of --tables, then run again/,
      '4711',
    );
  });
});
