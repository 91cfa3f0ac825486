// A swap made with SET SCHEMA (ALTER TABLE a SET SCHEMA o2; ALTER TABLE o.a SET SCHEMA public) is
// followed as the RENAME TO swap is: the followed table goes on as o2.a, placed at its renaming
// transaction, and re-copied online when a change under the old name lies inside that transaction.
// walduck took SET SCHEMA for an OWNER TO (both rewrite the index's pg_class row with the row type's):
// the renaming transaction was never known, the new public.a's row was applied to the followed table,
// and walduck stopped (exit 1) with "cannot tell apart", at every restart too.
//
// An OWNER TO, alone or with other DDL in its transaction, must still not name a renaming transaction:
// the catalog facts RENAMING_XID reads are checked here directly, case by case, against the
// transaction that made each change.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { MOVING_XID, RENAMING_XID } from '../../../src/source/renames.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-set-schema-');

const withBatch = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir, 20);
const args = (file: string, slot: string, tables: string, ...extra: string[]) =>
  withBatch(file, '--slot', slot, '--tables', tables, ...extra);

/**
 * Followed public.`t` and public.`w`; o_`t`.`t`, of another shape, takes the name public.`t` by SET
 * SCHEMA in the transaction that moves the followed one to o2_`t` (`inSwap`: statements after the
 * moves in that transaction). Then `after` runs, and walduck is stopped once `until` is in its log.
 * Returns walduck's stderr, after comparing DuckDB with the source under the names the tables have now.
 */
async function setSchemaSwap(t: string, inSwap: string, after: string, until: RegExp): Promise<string> {
  const w = `${t}_w`;
  psql(
    c.info,
    `CREATE SCHEMA o_${t}; CREATE SCHEMA o2_${t};
     CREATE TABLE ${t} (id int PRIMARY KEY, v text);
     INSERT INTO ${t} SELECT g, 'a' || g FROM generate_series(1, 50) g;
     CREATE TABLE ${w} (id int PRIMARY KEY);
     CREATE TABLE o_${t}.${t} (id int PRIMARY KEY, v text, n int NOT NULL);
     INSERT INTO o_${t}.${t} SELECT g, 'o' || g, g FROM generate_series(1, 5) g;`,
  );
  const file = `${t}.duckdb`;
  const slot = `${t}_slot`;
  const run = startWatched(args(file, slot, `${t},${w}`), 'walduck:replicate,walduck:sink');
  try {
    await run.waitFor(/streaming from slot/);
    psql(
      c.info,
      `BEGIN; ALTER TABLE ${t} SET SCHEMA o2_${t}; ALTER TABLE o_${t}.${t} SET SCHEMA public; ${inSwap} COMMIT;`,
    );
    psql(c.info, after);
    await run.waitFor(until);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`public\\.${t}: RENAME TABLE to o2_${t}\\.${t} applied at LSN`));
  const done = await runWalduck([...args(file, slot, `o2_${t}.${t},${w}`), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [
    { schema: `o2_${t}`, table: t },
    { schema: 'public', table: w },
  ]);
  assert.deepEqual(
    (await statusJson(join(dir, file))).map((x) => [x.table, x.state]),
    [
      [`o2_${t}.${t}`, 'streaming'],
      [`public.${w}`, 'streaming'],
    ],
  );
  return r.stderr;
}

describe('a swap made with SET SCHEMA', () => {
  it('with a row of the other table under the old name in the swapping transaction: the moved table is copied again online, not stopped', {
    timeout: 180_000,
  }, async () => {
    await setSchemaSwap(
      'ga',
      `INSERT INTO public.ga VALUES (100, 'other, in the swap', 100);`,
      `INSERT INTO o2_ga.ga VALUES (51, 'followed, after the swap'); INSERT INTO public.ga VALUES (101, 'other', 101);
       INSERT INTO ga_w VALUES (1)`,
      /online copy of o2_ga\.ga: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/,
    );
  });

  it("with the other table's rows only after the swapping transaction: placed at that transaction, no copy", {
    timeout: 180_000,
  }, async () => {
    const stderr = await setSchemaSwap(
      'gb',
      '',
      `INSERT INTO public.gb VALUES (100, 'other, after the swap', 100); UPDATE public.gb SET v = 'other' WHERE id = 1;
       INSERT INTO o2_gb.gb VALUES (51, 'followed, after the swap'); UPDATE o2_gb.gb SET v = 'followed' WHERE id = 1;
       INSERT INTO gb_w VALUES (1)`,
      /public\.gb: RENAME TABLE to o2_gb\.gb applied at LSN/,
    );
    assert.doesNotMatch(stderr, /re-copying/, 'placed at its transaction: no copy');
  });

  it('followed by an OWNER TO of the moved table in the next transaction: still placed at the swapping transaction, no copy', {
    timeout: 180_000,
  }, async () => {
    // The OWNER TO rewrites the row type, hiding the swap from RENAMING_XID; the moved table's schema
    // dependency still names it. walduck applied the new public.gc's rename alone at the swap and
    // stopped: "source tables public.gc and public.gc would both land in DuckDB table main.gc".
    psql(c.info, 'CREATE ROLE gc_owner');
    const stderr = await setSchemaSwap(
      'gc',
      'COMMIT; ALTER TABLE o2_gc.gc OWNER TO gc_owner; BEGIN;',
      `INSERT INTO public.gc VALUES (100, 'other, after the swap', 100); UPDATE public.gc SET v = 'other' WHERE id = 1;
       INSERT INTO o2_gc.gc VALUES (51, 'followed, after the swap'); UPDATE o2_gc.gc SET v = 'followed' WHERE id = 1;
       INSERT INTO gc_w VALUES (1)`,
      /public\.gc: RENAME TABLE to o2_gc\.gc applied at LSN/,
    );
    assert.doesNotMatch(stderr, /re-copying/, 'placed at its transaction: no copy');
  });
});

describe('OWNER TO is not taken for a rename', () => {
  it('on a followed table, alone and with other DDL and rows in its transaction: followed as is, no rename, no copy', {
    timeout: 180_000,
  }, async () => {
    psql(
      c.info,
      `CREATE ROLE ow_owner; CREATE SCHEMA ow_s;
       CREATE TABLE ow (id int PRIMARY KEY, v text); INSERT INTO ow SELECT g, 'a' || g FROM generate_series(1, 20) g;
       CREATE TABLE ow_other (id int PRIMARY KEY);`,
    );
    const file = 'ow.duckdb';
    const run = startWatched(args(file, 'ow_slot', 'ow'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(c.info, `ALTER TABLE ow OWNER TO ow_owner; INSERT INTO ow VALUES (21, 'after owner')`);
      psql(
        c.info,
        `BEGIN; ALTER TABLE ow OWNER TO postgres; ALTER TABLE ow ADD COLUMN n int; ALTER TABLE ow_other SET SCHEMA ow_s;
         INSERT INTO ow VALUES (22, 'with owner and DDL', 22); UPDATE ow SET v = 'updated' WHERE id = 1; COMMIT;`,
      );
      await run.waitFor(/public\.ow: ADD COLUMN n integer applied/);
    } finally {
      run.child.kill('SIGINT');
    }
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, `INSERT INTO ow VALUES (23, 'later', 23)`);
    const done = await runWalduck([...args(file, 'ow_slot', 'ow'), '--until-caught-up']);
    assert.equal(done.code, 0, done.stderr);
    assert.doesNotMatch(r.stderr + done.stderr, /RENAME TABLE|renamed|re-copying|online copy/);
    await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table: 'ow' }]);
  });

  it('the renaming transaction the catalog names: the SET SCHEMA or RENAME, never an OWNER TO', () => {
    // Each case's table, and the transactions of its statements: `xid('name')` records one.
    const xid = (name: string) => `INSERT INTO rx_xids VALUES ('${name}', txid_current());`;
    psql(
      c.info,
      `CREATE ROLE rx_owner; CREATE SCHEMA rx_o; CREATE TABLE rx_xids (name text PRIMARY KEY, xid bigint);
       CREATE TABLE rx_rename (id int PRIMARY KEY, v text);
       CREATE TABLE rx_move (id int PRIMARY KEY, v text);
       CREATE TABLE rx_move_owner (id int PRIMARY KEY, v text);
       CREATE TABLE rx_owner_move (id int PRIMARY KEY, v text);
       CREATE TABLE rx_both (id int PRIMARY KEY, v text);
       CREATE TABLE rx_owned (id int PRIMARY KEY, v text);
       CREATE TABLE rx_owned_ddl (id int PRIMARY KEY, v text);
       CREATE TABLE rx_rename_owner (id int PRIMARY KEY, v text);`,
    );
    const steps = [
      `ALTER TABLE rx_rename RENAME TO rx_renamed; ${xid('rename')}`,
      `ALTER TABLE rx_move SET SCHEMA rx_o; ${xid('move')}`,
      `ALTER TABLE rx_move_owner SET SCHEMA rx_o; ${xid('move_owner 1')}`,
      `ALTER TABLE rx_o.rx_move_owner OWNER TO rx_owner; ${xid('move_owner 2')}`,
      `ALTER TABLE rx_owner_move OWNER TO rx_owner; ${xid('owner_move 1')}`,
      `ALTER TABLE rx_owner_move SET SCHEMA rx_o; ${xid('owner_move 2')}`,
      `ALTER TABLE rx_both SET SCHEMA rx_o; ALTER TABLE rx_o.rx_both OWNER TO rx_owner; ${xid('both')}`,
      `ALTER TABLE rx_owned OWNER TO rx_owner; ${xid('owned')}`,
      `ALTER TABLE rx_owned_ddl OWNER TO rx_owner; ALTER TABLE rx_owned_ddl ADD COLUMN n int;
       ALTER TABLE rx_owned_ddl SET SCHEMA public; ALTER TABLE rx_owned_ddl RENAME v TO w; ${xid('owned_ddl')}`,
      `ALTER TABLE rx_rename_owner RENAME TO rx_renamed_owner; ${xid('rename_owner 1')}`,
      `ALTER TABLE rx_renamed_owner OWNER TO rx_owner; ${xid('rename_owner 2')}`,
    ];
    for (const s of steps) psql(c.info, `BEGIN; ${s} COMMIT;`);
    const named = (table: string) =>
      psql(
        c.info,
        `SELECT coalesce(${RENAMING_XID}, 'none') FROM pg_class c WHERE c.oid = '${table}'::regclass`,
      );
    const recorded = (name: string) => psql(c.info, `SELECT xid FROM rx_xids WHERE name = '${name}'`);
    assert.equal(named('rx_renamed'), recorded('rename'), 'RENAME TO');
    assert.equal(named('rx_o.rx_move'), recorded('move'), 'SET SCHEMA');
    assert.equal(named('rx_o.rx_move_owner'), 'none', 'SET SCHEMA, then OWNER TO: hidden');
    const moved = (table: string) =>
      psql(c.info, `SELECT ${MOVING_XID} FROM pg_class c WHERE c.oid = '${table}'::regclass`);
    assert.equal(moved('rx_o.rx_move_owner'), recorded('move_owner 1'), 'SET SCHEMA, then OWNER TO: moved');
    assert.equal(moved('rx_o.rx_owner_move'), recorded('owner_move 2'), 'OWNER TO, then SET SCHEMA: moved');
    assert.equal(named('rx_o.rx_owner_move'), recorded('owner_move 2'), 'OWNER TO, then SET SCHEMA');
    assert.equal(named('rx_o.rx_both'), recorded('both'), 'SET SCHEMA and OWNER TO in one transaction');
    assert.equal(named('rx_owned'), 'none', 'OWNER TO');
    assert.equal(named('rx_owned_ddl'), 'none', 'OWNER TO with other DDL, SET SCHEMA to its own schema');
    assert.equal(named('rx_renamed_owner'), 'none', 'RENAME TO, then OWNER TO: hidden');
  });
});
