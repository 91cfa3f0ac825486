// A swap (ALTER TABLE a RENAME TO tmp; ALTER TABLE b RENAME TO a; ALTER TABLE tmp RENAME TO b, one
// transaction) that the source catalog shows before the stream reaches it, with a change of the other
// table under the followed table's new name (b) still ahead of the swap in the stream. walduck learns
// the renaming transaction from the catalog, but the change under b comes first: the renamed table is
// copied again online, and the line must say that, not that a later DDL hid the renaming transaction
// (none did). DuckDB is compared with PostgreSQL row for row under the followed table's name now.
//
// The stream is held in a proxy while the transactions commit, so that the catalog check of the first
// DuckDB commit after it (--batch-changes 1) sees the swap before walduck has read any of them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { FaultProxy } from '../../helpers/faults.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-swap-ahead-');

it("a swap the catalog shows first, the other table's change under the new name ahead of it in the stream: re-copied, and the line says why", {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE wa (id int PRIMARY KEY, v text);
     INSERT INTO wa SELECT g, 'a' || g FROM generate_series(1, 20) g;
     CREATE TABLE wb (id int PRIMARY KEY, v text);
     INSERT INTO wb SELECT g, 'b' || g FROM generate_series(1, 5) g;`,
  );
  const proxy = await FaultProxy.start(c.info.port);
  const file = 'ahead.duckdb';
  const args = (port: number, tables: string, ...extra: string[]) =>
    replicateArgs(() => conninfo(c.info, 'scram-sha-256', { port: String(port) }), dir)(
      file,
      '--slot',
      'ahead_slot',
      '--tables',
      tables,
      ...extra,
    );
  const run = startWatched(args(proxy.port, 'wa', '--batch-changes', '1'), 'walduck:replicate,walduck:sink');
  try {
    await run.waitFor(/streaming from slot/);
    proxy.hold('down');
    // All committed (psql waits for each) before walduck reads the first of them.
    psql(
      c.info,
      `INSERT INTO wa VALUES (21, 'followed, before the swap'); COMMIT;
       UPDATE wb SET v = 'other, under the new name, before the swap' WHERE id = 1; COMMIT;
       BEGIN; ALTER TABLE wa RENAME TO wa_tmp; ALTER TABLE wb RENAME TO wa; ALTER TABLE wa_tmp RENAME TO wb; COMMIT;
       UPDATE wa SET v = 'other, after the swap' WHERE id = 2; COMMIT;
       INSERT INTO wb VALUES (22, 'followed, after the swap'); COMMIT;
       UPDATE wb SET v = 'followed, after the swap' WHERE id = 3;`,
    );
    proxy.release();
    await run.waitFor(/re-copying public\.wb online/);
    assert.match(
      run.text(),
      /public\.wb: renamed from public\.wa while another table took that name, and a change under public\.wb came before the stream reached the renaming transaction \(xid \d+\), which the source catalog showed first/,
    );
    assert.doesNotMatch(run.text(), /hidden by a later DDL/);
    await run.waitFor(/online copy of public\.wb: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  await proxy.close();
  assert.equal(r.code, 0, r.stderr);
  const done = await runWalduck([...args(c.info.port, 'wb'), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table: 'wb' }]);
});
