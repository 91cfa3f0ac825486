// A swap of a followed table with a table of another shape (ALTER TABLE sa RENAME TO sa_old; ALTER
// TABLE sb RENAME TO sa), with a row of the other table under the name sa in the same transaction,
// reaching walduck before its catalog check (at most once a second) has seen the swap. The row is
// the other table's, and the changes under sa in the renaming transaction may be either table's:
// the followed table goes on as sa_old, copied again online, as when the check sees the swap first.
// walduck stopped instead (exit 1): the row did not fit the table it follows as sa, and the stream
// and the catalog of that table's oid "cannot tell apart" the change.
//
// The race is made so: the swapping transaction waits, uncommitted, while walduck applies another
// transaction (whose start runs the catalog check, which cannot see the swap yet); it commits right
// after, so the stream brings it well within the second before the next check.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { psqlSession } from '../../helpers/psql-session.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-swap-race-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('a swap with a row of the other table (another shape) under the old name, streamed before the catalog check saw it: re-copied, not stopped', {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE sa (id int PRIMARY KEY, v text);
     INSERT INTO sa SELECT g, 'a' || g FROM generate_series(1, 50) g;
     CREATE TABLE sb (id int PRIMARY KEY, v text, n int);
     INSERT INTO sb SELECT g, 'b' || g, g FROM generate_series(1, 5) g;
     CREATE TABLE sc (id int PRIMARY KEY);`,
  );
  const file = 'swap.duckdb';
  const first = await runWalduck([...args(file, '--tables', 'sa,sc'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const run = startWatched(
    args(file, '--tables', 'sa,sc', '--batch-changes', '1'),
    'walduck:replicate,walduck:sink',
  );
  try {
    await run.waitFor(/streaming from slot/);
    const swap = psqlSession(
      c.info,
      `BEGIN; ALTER TABLE sa RENAME TO sa_old; ALTER TABLE sb RENAME TO sa;
       INSERT INTO sa VALUES (100, 'other, in the swap', 100); SELECT 'swapped';\n`,
      'swapped',
    );
    await swap.ready;
    const from = run.text().length;
    psql(c.info, 'INSERT INTO sc VALUES (1)');
    await run.waitFor(/committed 1 change\(s\)/, from);
    assert.equal(await swap.end('COMMIT;\n'), 0);
    psql(c.info, "INSERT INTO sa_old VALUES (51, 'followed, after the swap'); INSERT INTO sc VALUES (2)");
    await run.waitFor(/re-copying public\.sa_old online/);
    await run.waitFor(/online copy of public\.sa_old: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const done = await runWalduck([...args(file, '--tables', 'sa_old,sc'), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [
    { schema: 'public', table: 'sa_old' },
    { schema: 'public', table: 'sc' },
  ]);
});
