// A followed table dropped and created again while streaming, first seen by the catalog check a
// DuckDB commit runs (the one at a transaction's start runs at most once a second): that commit wrote
// the new oid into the table set, and the re-copy was taken only at the next transaction. A kill -9
// between the two lost the re-copy: the next start found the new oid already recorded, and the new
// table was streamed over the dropped one's rows (the replica kept them: DIFFERENT, exit 0).
//
// The order is made so: a transaction on the other table runs the check at its start, then the drop
// and the create commit and a second transaction follows within the second, so only its DuckDB
// commit's check sees them; the kill comes once that commit is made, with nothing more to stream.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-recreated-kill-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('kill -9 right after the commit that saw a table dropped and created again: the re-copy was committed with it', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE ka (id int PRIMARY KEY);
     CREATE TABLE kb (id int PRIMARY KEY, v text); INSERT INTO kb VALUES (1, 'old'), (2, 'old'), (3, 'old');`,
  );
  const argv = args('kill.duckdb', '--tables', 'ka,kb', '--batch-changes', '1');
  const first = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const run = startWatched(argv, 'walduck:*');
  try {
    await run.waitFor(/streaming from slot/);
    let from = run.text().length;
    psql(c.info, 'INSERT INTO ka VALUES (1)');
    await run.waitFor(/committed 1 change\(s\)/, from);
    from = run.text().length;
    psql(c.info, 'BEGIN; DROP TABLE kb; CREATE TABLE kb (id int PRIMARY KEY, v text); COMMIT;');
    psql(c.info, 'INSERT INTO ka VALUES (2)');
    // The commit after the check that saw the new oid.
    await run.waitFor((log) => {
      const seen = log.indexOf('table public.kb was dropped and created again at the source');
      return seen >= 0 && /committed \d+ change\(s\)/.test(log.slice(seen));
    }, from);
  } finally {
    run.child.kill('SIGKILL');
  }
  await run.done;
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 'kill.duckdb'), [
    { schema: 'public', table: 'ka' },
    { schema: 'public', table: 'kb' },
  ]);
});
