// A DDL reaches walduck with the table's next change (WAL carries no DDL): an ADD COLUMN or RENAME
// COLUMN with no row written since leaves the replica with the old columns, and verify read the
// source's column names from the replica: DuckDB's "Binder Error: Referenced column … not found", exit
// 1, no line per table. Such a table is now DIFFERENT, naming the columns the replica lacks, and the
// other tables are compared as usual.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('verify with a schema change the replica has not seen yet', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-verify-ahead-');
  const src = () => conninfo(c.info, 'scram-sha-256');
  const file = () => join(dir, 'ahead.duckdb');

  it('the table is DIFFERENT, naming the columns; the others are compared', async () => {
    psql(
      c.info,
      `CREATE TABLE va (id int PRIMARY KEY, v int); INSERT INTO va SELECT g, g FROM generate_series(1, 10) g;
       CREATE TABLE vb (id int PRIMARY KEY, v int); INSERT INTO vb SELECT g, g FROM generate_series(1, 10) g`,
    );
    const r = await runWalduck([
      'replicate',
      '--source',
      src(),
      '--duckdb',
      file(),
      '--tables',
      'va,vb',
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, `ALTER TABLE va ADD COLUMN z int DEFAULT 5; ALTER TABLE va RENAME COLUMN v TO "V v"`);
    const v = await runWalduck(['verify', '--source', src(), '--duckdb', file(), '--rows']);
    assert.equal(v.code, 1, v.stderr);
    const lines = v.stdout.trim().split('\n');
    assert.equal(lines.length, 3, v.stdout + v.stderr);
    assert.match(
      lines[0] ?? '',
      /^public\.va: DIFFERENT, the replica lacks column\(s\) "V v", z, source 10 rows, replica 10 rows .*next change/,
    );
    assert.match(lines[1] ?? '', /^public\.vb: EQUAL, 10 rows/);
    assert.match(lines[2] ?? '', /^DIFFERENT: 1 of 2 table\(s\) equal/);
    const json = await runWalduck(['verify', '--source', src(), '--duckdb', file(), '--json']);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as { tables: { table: string; missingInReplica?: string[] }[] };
    assert.deepEqual(report.tables[0]?.missingInReplica, ['V v', 'z']);
  });
});
