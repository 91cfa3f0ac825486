// DDL the catalog is already past when walduck reads the rows before it: ADD a, a row with a, DROP a,
// ADD b of the same type, a row with b, all while walduck is stopped. The row with a is explained by
// a's attnum (dropped since) or by b's (a renamed to b since): walduck stops with one line. Before, b's
// attnum won on its type: the rows already there got b's default as a, a was then "renamed" to b, and
// the row written with a kept its a value as b, where PostgreSQL shows b's default; exit 0.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a schema change the stream and the catalog cannot tell apart', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-schema-ambiguous-');
  const replicate = () =>
    runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      join(dir, 'sc.duckdb'),
      '--tables',
      'sc',
      '--until-caught-up',
    ]);

  it('drop a, add b of the same type, both before the row with a is read: stops, stores nothing guessed', async () => {
    psql(c.info, 'CREATE TABLE sc (id int PRIMARY KEY, v int); INSERT INTO sc VALUES (1, 1)');
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `ALTER TABLE sc ADD COLUMN a text DEFAULT 'A'; INSERT INTO sc VALUES (2, 2, 'x');
       ALTER TABLE sc DROP COLUMN a; ALTER TABLE sc ADD COLUMN b text DEFAULT 'B'; INSERT INTO sc VALUES (3, 3, 'y')`,
    );
    const r = await replicate();
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /schema change on public\.sc at LSN .* cannot tell apart.*walduck resync --table public\.sc/,
    );
    const db = await DuckDBInstance.create(join(dir, 'sc.duckdb'), { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    const cols = (
      await conn.runAndReadAll(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'sc' ORDER BY ordinal_position",
      )
    ).getRows();
    conn.closeSync();
    db.closeSync();
    assert.deepEqual(
      cols.map((x) => x[0]),
      ['id', 'v'],
    );
  });
});
