// A followed table renamed away and back (t -> t2 -> t) with rows changed under t2: the catalog shows
// it under its own name again, no rename is pending, and its changes under t2 (a name no relation has
// now) were dropped as another table's, silently (verify: DIFFERENT, a row missing, one not updated).
// walduck now finds its row type rewritten by a transaction ahead in the stream and copies the table
// again online (row-type-rewrites.ts), whether walduck runs or was stopped; a table whose row type
// was rewritten before the slot's horizon is not copied for a dropped table's changes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-back-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

/** Followed `t` and `t_w`; `t` renamed to `t`_mid and back, rows changed in between (`tx`: one transaction or each its own). */
function create(t: string): void {
  psql(
    c.info,
    `CREATE TABLE ${t} (id int PRIMARY KEY, v text); INSERT INTO ${t} SELECT g, 'a' || g FROM generate_series(1, 20) g;
     CREATE TABLE ${t}_w (id int PRIMARY KEY);`,
  );
}

function awayAndBack(t: string, oneTransaction: boolean): void {
  const steps = [
    `ALTER TABLE ${t} RENAME TO ${t}_mid`,
    `INSERT INTO ${t}_mid VALUES (100, 'in between')`,
    `UPDATE ${t}_mid SET v = 'changed in between' WHERE id = 1`,
    `ALTER TABLE ${t}_mid RENAME TO ${t}`,
    `INSERT INTO ${t} VALUES (101, 'after')`,
    `DELETE FROM ${t} WHERE id = 2`,
  ];
  psql(
    c.info,
    oneTransaction
      ? `BEGIN; ${steps.join('; ')}; COMMIT;`
      : steps.map((s) => `BEGIN; ${s}; COMMIT;`).join(' '),
  );
  psql(c.info, `UPDATE ${t} SET v = 'later' WHERE id = 3; INSERT INTO ${t}_w VALUES (1)`);
}

async function caughtUp(file: string, slot: string, t: string): Promise<string> {
  const r = await runWalduck([...args(file, '--slot', slot, '--tables', `${t},${t}_w`), '--until-caught-up']);
  assert.equal(r.code, 0, r.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [
    { schema: 'public', table: t },
    { schema: 'public', table: `${t}_w` },
  ]);
  return r.stderr;
}

describe('a followed table renamed away and back', () => {
  for (const oneTransaction of [true, false])
    it(`while walduck runs, ${oneTransaction ? 'both renames in one transaction' : 'each step its own transaction'}: copied again online, equal to the source`, {
      timeout: 120_000,
    }, async () => {
      const t = oneTransaction ? 'ab1' : 'ab2';
      create(t);
      const file = `${t}.duckdb`;
      const slot = `${t}_slot`;
      const run = startWatched(args(file, '--slot', slot, '--tables', `${t},${t}_w`), 'walduck:replicate');
      try {
        await run.waitFor(/streaming from slot/);
        awayAndBack(t, oneTransaction);
        // Either outcome says so in a line: the re-copy, or (before the fix) the name left out.
        await run.waitFor(new RegExp(`re-copying public\\.${t} online|changes of public\\.${t}_mid are not`));
      } finally {
        run.child.kill('SIGINT');
      }
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`public\\.${t}: changes under public\\.${t}_mid, a name no table has now`),
      );
      await caughtUp(file, slot, t);
    });

  it('while walduck is stopped: copied again online at the restart, equal to the source; a dropped table alone copies nothing', {
    timeout: 120_000,
  }, async () => {
    const t = 'ab3';
    create(t);
    const file = `${t}.duckdb`;
    const slot = `${t}_slot`;
    await caughtUp(file, slot, t);
    // A table of the workload dropped, its rows never the followed table's: no copy.
    psql(
      c.info,
      `CREATE TABLE ab3_scratch (id int PRIMARY KEY); INSERT INTO ab3_scratch VALUES (1); DROP TABLE ab3_scratch;
       INSERT INTO ${t} VALUES (99, 'before')`,
    );
    assert.doesNotMatch(await caughtUp(file, slot, t), /re-copying/);
    awayAndBack(t, false);
    assert.match(await caughtUp(file, slot, t), new RegExp(`re-copying public\\.${t} online`));
  });
});
