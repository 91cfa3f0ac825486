// A newline is legal in PostgreSQL names. A refusal of walduck's own (here a type change DuckDB cannot
// follow) naming such a table was cut at the newline when it was wrapped with the row's key and LSN:
// the one line ended "schema change on public.n", without the change, the LSN or the command to run.
// The names are written as quote_ident() would, escaped (U&"n\000al"): pasted into psql, --tables or
// --table (which read that form too).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('names with a newline in a stopping line', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-newline-names-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = () => runWalduck([...args('nl.duckdb', '--tables', '"n\nl"'), '--until-caught-up']);

  it('the whole refusal is on the line', async () => {
    psql(c.info, `CREATE TABLE "n\nl" (id int PRIMARY KEY, "a\nb" int); INSERT INTO "n\nl" VALUES (1, 1)`);
    const first = await replicate();
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `ALTER TABLE "n\nl" ALTER COLUMN "a\nb" TYPE text; INSERT INTO "n\nl" VALUES (2, 'x')`);
    const r = await replicate();
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /schema change on public\.U&"n\\000al" at LSN .*: column U&"a\\000ab" changed type.*walduck resync --table public\.U&"n\\000al" to copy/,
    );
    // The way out, run as the line writes it: --table did not read U&"…" (an unexpected character).
    const name = /walduck resync --table (\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
    const resync = await runWalduck(['resync', '--duckdb', join(dir, 'nl.duckdb'), '--table', name]);
    assert.equal(resync.code, 0, resync.stderr);
    const after = await replicate();
    assert.equal(after.code, 0, after.stderr);
    await assertReplicaEquals(c.info, join(dir, 'nl.duckdb'), [{ schema: 'public', table: 'n\nl' }]);
  });
});
