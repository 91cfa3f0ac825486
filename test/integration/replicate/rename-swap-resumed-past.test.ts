// A swap made while walduck was stopped (ALTER TABLE t SET SCHEMA o2; ALTER TABLE o.t SET SCHEMA
// public), with the DuckDB file's position already past the swapping transaction but the rename not
// recorded: what a stop or kill left when the batch that committed the swap's position did not take
// the rename (it was taken at the next transaction, then rolled back; rename-set-schema's second case
// under load). At the restart the stream never shows the renaming commit. Changes under public.t are
// then the other table's, yet they were applied to the followed table, recorded as public.t: with
// tables of one shape the replica silently held the other table's rows (a different shape stopped
// with "cannot tell apart"). Now such a change is applied only tentatively, no DuckDB commit is made
// over it until the stream shows the renaming commit or passes the position read at start, and then
// the batch is read again with the rename where it belongs.
//
// The state is made here directly: the file's position and the slot both moved past the swap.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { formatLsn, parseLsn } from '../../../src/protocol/lsn.js';
import { attachedCatalog, writeState } from '../../../src/sink/checkpoint.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-resumed-past-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

/** Moves the file's stored position (walduck.state) to `lsn`, as a commit there would have. */
async function storePosition(file: string, slot: string, lsn: bigint): Promise<void> {
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  try {
    await writeState(conn, await attachedCatalog(conn), slot, lsn);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

it('a swap behind the resume position: changes under the old name are the other table’s', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    `CREATE SCHEMA o_rp; CREATE SCHEMA o2_rp;
     CREATE TABLE rp (id int PRIMARY KEY, v text); INSERT INTO rp SELECT g, 'a' || g FROM generate_series(1, 20) g;
     CREATE TABLE o_rp.rp (id int PRIMARY KEY, v text); INSERT INTO o_rp.rp SELECT g, 'o' || g FROM generate_series(101, 105) g;`,
  );
  const file = join(dir, 'rp.duckdb');
  const first = await runWalduck(
    args('rp.duckdb', '--slot', 'rp_slot', '--tables', 'rp', '--until-caught-up'),
  );
  assert.equal(first.code, 0, first.stderr);

  psql(c.info, `BEGIN; ALTER TABLE rp SET SCHEMA o2_rp; ALTER TABLE o_rp.rp SET SCHEMA public; COMMIT;`);
  const past = parseLsn(psql(c.info, 'SELECT pg_current_wal_insert_lsn()').trim());
  assert.ok(past !== undefined);
  psql(
    c.info,
    // Only the other table changes: a change of the followed one under its new name is left out and
    // holds the commit anyway (leftOut), which would read the batch again for its own reason.
    `INSERT INTO public.rp VALUES (200, 'other'); UPDATE public.rp SET v = 'other' WHERE id = 101;
     INSERT INTO public.rp VALUES (2, 'other, with a key the followed table has too');`,
  );
  await storePosition(file, 'rp_slot', past);
  psql(c.info, `SELECT pg_replication_slot_advance('rp_slot', '${formatLsn(past)}')`);

  const r = await runWalduck(
    args('rp.duckdb', '--slot', 'rp_slot', '--tables', 'o2_rp.rp', '--until-caught-up'),
  );
  assert.equal(r.code, 0, r.stderr);
  await assertReplicaEquals(c.info, file, [{ schema: 'o2_rp', table: 'rp' }]);
});
