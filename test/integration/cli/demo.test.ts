// walduck demo, as a newcomer runs it: a throwaway cluster, a writer, a replica, queries, cleanup.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';
import { assertOneLine } from './usage.js';

const dir = useWorkdir('walduck-demo-');

describe('walduck demo', () => {
  it('replicates a writer into DuckDB, prints queries, removes the cluster, --keep keeps the file', async () => {
    const file = join(dir, 'kept.duckdb');
    const r = await runWalduck(['demo', '--seconds', '1', '--keep', '--duckdb', file]);
    assert.equal(r.code, 0, r.stderr);
    const clusterDir = /data in (\S+)/.exec(r.stderr)?.[1];
    assert.ok(clusterDir, r.stderr);
    assert.equal(existsSync(clusterDir), false, 'the cluster directory is gone');
    const w = /writer: (\d+) transactions \((\d+) inserts, (\d+) updates, (\d+) deletes\)/.exec(r.stderr);
    assert.ok(w, r.stderr);
    assert.ok(Number(w[1]) > 5 && Number(w[3]) > 0 && Number(w[4]) > 0, w[0]);
    assert.match(r.stdout, /SELECT status, count\(\*\)/);
    assert.match(r.stdout, /the DuckDB replica has exactly the same/);
    // The kept replica holds every insert minus every delete the writer's PostgreSQL tags reported.
    const [[count]] = (await duckQuery(file, 'SELECT count(*) FROM orders')) as [[bigint]];
    assert.equal(Number(count), Number(w[2]) - Number(w[4]));
    assertOneLine(await runWalduck(['demo', '--duckdb', file]), 1, /exists already/);
  });

  it('without --keep leaves nothing behind', async () => {
    const file = join(dir, 'gone.duckdb');
    const r = await runWalduck(['demo', '--seconds', '0.5', '--duckdb', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}.wal`), false);
  });

  it('says what to install when the PostgreSQL binaries are missing', async () => {
    const empty = mkdtempSync(join(dir, 'bin-'));
    writeFileSync(join(empty, 'README'), 'no postgres here');
    const r = await runWalduck(['demo', '--duckdb', join(dir, 'never.duckdb')], { PG_BINDIR: empty });
    assertOneLine(
      r,
      1,
      /PostgreSQL server binaries not found.*apt-get install postgresql-15 postgresql-15-wal2json/,
    );
    assertOneLine(await runWalduck(['demo', '--seconds', '-1']), 2, /--seconds/);
  });
});
