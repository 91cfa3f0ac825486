// A table created, filled and given its primary key in one transaction while walduck runs (all-tables
// mode): wal2json decodes its first rows as the table was then, with no key (pk []), and walduck's
// record, read from the catalog when the table joined, has the key. The line said "its primary key
// changed from (id) to ()", a change that never happened; it says the rows came before the key. The
// table is copied online, which also brings back an UPDATE made before the key (wal2json leaves it out
// of the stream, with a warning): the replica equals the source.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-keyed-in-tx-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

it('a table created, filled and keyed in one transaction while walduck runs: the line says its rows came before its key, and no row is lost', {
  timeout: 120_000,
}, async () => {
  psql(c.info, 'CREATE TABLE other (id int PRIMARY KEY)');
  const argv = args('keyed.duckdb');
  const run = startWatched(argv, 'walduck:replicate,walduck:sink');
  try {
    await run.waitFor(/streaming from slot/);
    psql(
      c.info,
      `BEGIN; CREATE TABLE kt (id int, v text); INSERT INTO kt SELECT g, 'v' || g FROM generate_series(1, 20) g;
       UPDATE kt SET v = 'changed before the key' WHERE id = 3; ALTER TABLE kt ADD PRIMARY KEY (id); COMMIT;`,
    );
    psql(c.info, "INSERT INTO kt VALUES (21, 'after')");
    await run.waitFor(/online copy of public\.kt: .*done/);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /primary key changed from/);
  assert.match(
    r.stderr,
    /public\.kt: it was written to before it had its primary key \(id\), which was added before walduck read its schema \(an UPDATE or DELETE made while it had no key is not in the stream\), at LSN [0-9A-F]+\/[0-9A-F]+: re-copying public\.kt online/,
  );
  const caught = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(caught.code, 0, caught.stderr);
  await assertReplicaEquals(c.info, join(dir, 'keyed.duckdb'), [{ schema: 'public', table: 'kt' }]);
});
