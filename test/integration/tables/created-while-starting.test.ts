// All tables, first start: the tables are listed before the replication slot is created, and its
// creation waits for the transactions running then. A table such a transaction created is in the
// slot's snapshot but not in the list: walduck took it as new at its next change, and the rows it
// held before the slot were in neither the copy nor the stream (lost, exit 0).
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
const dir = useWorkdir('walduck-starting-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

it('all tables: a table committed while the slot is made is copied with its rows, not taken as new', {
  timeout: 60_000,
}, async () => {
  psql(c.info, 'CREATE TABLE base (id int PRIMARY KEY); INSERT INTO base VALUES (1)');
  const open = psqlSession(
    c.info,
    "BEGIN; CREATE TABLE late (id int PRIMARY KEY, v text); INSERT INTO late VALUES (1, 'before'); SELECT 'open' || 'ed';\n",
    'opened',
  );
  await open.ready;
  const argv = args('late.duckdb', '--slot', 'late_slot');
  const run = startWatched(argv, 'walduck:*');
  // Listed without it (not committed yet): it commits before the slot's snapshot, or the slot's
  // creation waits for it; either way the snapshot sees it.
  await run.waitFor(/tables: public\.base\n/);
  assert.equal(await open.end('COMMIT;\n'), 0);
  await run.waitFor(/streaming from slot/);
  psql(c.info, "INSERT INTO late VALUES (2, 'after')");
  run.child.kill('SIGTERM');
  const first = await run.done;
  assert.equal(first.code, 0, first.stderr);
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 'late.duckdb'), [t('base'), t('late')]);
  // Said once, in one line, and retried by itself.
  assert.equal(
    first.stderr
      .split('\n')
      .filter((l) => l.includes('was created while the replication slot was being made')).length,
    1,
    first.stderr,
  );
});
