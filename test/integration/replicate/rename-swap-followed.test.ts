// Two FOLLOWED tables swapping names (ALTER TABLE a RENAME TO tmp; ALTER TABLE b RENAME TO a; ALTER
// TABLE tmp RENAME TO b, one transaction): each DuckDB table follows its source table (by oid) under
// its new name, so DuckDB's a and b swap names too, whether walduck runs through the swap or starts
// after it. The renames form a cycle, so none of them can be applied alone (the first one's target is
// still taken by the other table). Rows of both tables change in the swapping transaction and after;
// DuckDB is compared with PostgreSQL row for row.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-swap-followed-');

const pub = (table: string) => ({ schema: 'public', table });

/** Two tables of different shapes, so that a row applied to the wrong one cannot pass unnoticed. */
function createPair(a: string, b: string): void {
  psql(
    c.info,
    `CREATE TABLE ${a} (id int PRIMARY KEY, v text);
     INSERT INTO ${a} SELECT g, 'a' || g FROM generate_series(1, 20) g;
     CREATE TABLE ${b} (id int PRIMARY KEY, w int, x text);
     INSERT INTO ${b} SELECT g, g * 10, 'b' || g FROM generate_series(1, 5) g;`,
  );
}

/** The swap, with rows of both tables before and after the renames in its transaction, and after it. */
function swap(a: string, b: string): void {
  psql(
    c.info,
    `BEGIN;
     INSERT INTO ${a} VALUES (101, 'a, in the swap, before');
     UPDATE ${b} SET x = 'b, in the swap, before' WHERE id = 1;
     ALTER TABLE ${a} RENAME TO ${a}_tmp; ALTER TABLE ${b} RENAME TO ${a}; ALTER TABLE ${a}_tmp RENAME TO ${b};
     INSERT INTO ${b} VALUES (102, 'old a, in the swap, after');
     UPDATE ${a} SET x = 'old b, in the swap, after', w = -1 WHERE id = 2;
     DELETE FROM ${b} WHERE id = 3;
     COMMIT;
     INSERT INTO ${b} VALUES (103, 'old a, after the swap');
     INSERT INTO ${a} VALUES (104, 1040, 'old b, after the swap');
     UPDATE ${b} SET v = 'old a, updated after' WHERE id = 4;
     DELETE FROM ${a} WHERE id = 5;`,
  );
}

const args = (file: string, slot: string, tables: string, ...extra: string[]) =>
  replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)(
    file,
    '--slot',
    slot,
    '--tables',
    tables,
    ...extra,
  );

/**
 * A run of walduck over `tables` while `during` changes the source, stopped (SIGINT) once its log
 * shows `seen`; it must exit 0. Returns its stderr.
 */
async function whileRunning(
  file: string,
  slot: string,
  tables: string,
  during: () => void,
  seen: (log: string) => boolean,
): Promise<string> {
  const run = startWatched(args(file, slot, tables), 'walduck:replicate');
  try {
    await run.waitFor(/streaming from slot/);
    during();
    await run.waitFor(seen);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  return r.stderr;
}

/** Both RENAME TABLE lines of the swap of `a` and `b`. */
const bothRenamed = (a: string, b: string) => (log: string) =>
  new RegExp(`public\\.${a}: RENAME TABLE to public\\.${b} applied at LSN`).test(log) &&
  new RegExp(`public\\.${b}: RENAME TABLE to public\\.${a} applied at LSN`).test(log);

async function assertSwapped(file: string, a: string, b: string, others: string[] = []): Promise<void> {
  const all = [a, b, ...others].sort();
  await assertReplicaEquals(c.info, join(dir, file), all.map(pub));
  const states = (await statusJson(join(dir, file))).map((x) => [x.table, x.state]);
  assert.deepEqual(
    states.sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    all.map((t) => [`public.${t}`, 'streaming']),
  );
}

it('two followed tables swap names while walduck runs: both followed, DuckDB equals the source', {
  timeout: 180_000,
}, async () => {
  createPair('ra', 'rb');
  const file = 'running.duckdb';
  const stderr = await whileRunning(
    file,
    'swap_running',
    'ra,rb',
    () => swap('ra', 'rb'),
    bothRenamed('ra', 'rb'),
  );
  // Whatever the run did not reach, a restart under the names now reaches, with no copy.
  const done = await runWalduck([...args(file, 'swap_running', 'ra,rb'), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  assert.doesNotMatch(done.stderr + stderr, /copied online|online copy/);
  await assertSwapped(file, 'ra', 'rb');
});

it('two followed tables swap names while walduck is stopped: the next start follows the swap', {
  timeout: 180_000,
}, async () => {
  createPair('sa', 'sb');
  const file = 'stopped.duckdb';
  const first = await runWalduck([...args(file, 'swap_stopped', 'sa,sb'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  swap('sa', 'sb');
  const again = await runWalduck([...args(file, 'swap_stopped', 'sa,sb'), '--until-caught-up']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /copied online|online copy/);
  assert.match(again.stderr, /public\.sa: RENAME TABLE to public\.sb applied at LSN/);
  assert.match(again.stderr, /public\.sb: RENAME TABLE to public\.sa applied at LSN/);
  await assertSwapped(file, 'sa', 'sb');
});

it('a swap, then OWNER TO of one of the two, while walduck is stopped: both renamed as one set, the unplaced one copied again', {
  timeout: 180_000,
}, async () => {
  // OWNER TO rewrites the row type the swap's renames are placed by, so the second rename could not be
  // placed; the first, applied alone at the swap, met its new name still taken: "public.wb and
  // public.wb would both land in main.wb" at every start.
  createPair('wa', 'wb');
  psql(c.info, 'CREATE ROLE swap_owner');
  const file = 'owner.duckdb';
  const first = await runWalduck([...args(file, 'swap_owner', 'wa,wb'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  swap('wa', 'wb');
  psql(
    c.info,
    `ALTER TABLE wa OWNER TO swap_owner;
     INSERT INTO wa VALUES (105, 1050, 'old wb, after OWNER TO'); UPDATE wb SET v = 'old wa, after OWNER TO' WHERE id = 6`,
  );
  const again = await runWalduck([...args(file, 'swap_owner', 'wa,wb'), '--until-caught-up']);
  assert.equal(again.code, 0, again.stderr);
  await assertSwapped(file, 'wa', 'wb');
});

it('a chain while walduck is stopped (ca to ca_old, cb to ca): the line gives the whole list, which then follows both', {
  timeout: 180_000,
}, async () => {
  // Before, the start refused the list it had advised: cb's line said to name ca, whose recorded table
  // is another one now, and only a cycle (a swap) was followed under the recorded names.
  createPair('ca', 'cb');
  const file = 'chain.duckdb';
  const first = await runWalduck([...args(file, 'chain', 'ca,cb'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  psql(
    c.info,
    `INSERT INTO ca VALUES (101, 'ca, before');
     BEGIN; ALTER TABLE ca RENAME TO ca_old; ALTER TABLE cb RENAME TO ca;
     INSERT INTO ca_old VALUES (102, 'old ca, in the chain'); UPDATE ca SET x = 'old cb, in the chain' WHERE id = 1;
     COMMIT;
     INSERT INTO ca VALUES (103, 1030, 'old cb, after'); DELETE FROM ca_old WHERE id = 4`,
  );
  const refused = await runWalduck([...args(file, 'chain', 'ca,cb'), '--until-caught-up']);
  assert.equal(refused.code, 1, refused.stderr);
  const advised = /--tables (public\.ca_old,public\.ca)\)/.exec(refused.stderr)?.[1];
  assert.ok(advised, refused.stderr);
  const again = await runWalduck([...args(file, 'chain', advised), '--until-caught-up']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /public\.ca: RENAME TABLE to public\.ca_old applied at LSN/);
  assert.match(again.stderr, /public\.cb: RENAME TABLE to public\.ca applied at LSN/);
  await assertReplicaEquals(c.info, join(dir, file), [pub('ca'), pub('ca_old')]);
  const states = (await statusJson(join(dir, file))).map((x) => `${x.table} ${x.state}`).sort();
  assert.deepEqual(states, ['public.ca streaming', 'public.ca_old streaming']);
});

it('a swap whose transaction changes only one of the two tables after the renames: that row is kept', {
  timeout: 180_000,
}, async () => {
  createPair('oa', 'ob');
  const file = 'one-side.duckdb';
  // The row under ob after the renames is the old oa's: the only change of the transaction, it
  // reaches the table that took the name ob, which must be copied again as the renamed one is.
  await whileRunning(
    file,
    'swap_one_side',
    'oa,ob',
    () =>
      psql(
        c.info,
        `BEGIN;
         ALTER TABLE oa RENAME TO oa_tmp; ALTER TABLE ob RENAME TO oa; ALTER TABLE oa_tmp RENAME TO ob;
         INSERT INTO ob VALUES (102, 'old oa, in the swap, after');
         COMMIT;`,
      ),
    bothRenamed('oa', 'ob'),
  );
  const done = await runWalduck([...args(file, 'swap_one_side', 'oa,ob'), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertSwapped(file, 'oa', 'ob');
});

it("a swap whose row after the renames may be a keyless table's that took the name: one line says it cannot be copied again", {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE ka (id int PRIMARY KEY, v text); INSERT INTO ka VALUES (1, 'a');
     CREATE TABLE kb (id int, w int); ALTER TABLE kb REPLICA IDENTITY FULL; INSERT INTO kb VALUES (1, 10);`,
  );
  const file = 'keyless-taker.duckdb';
  const first = await runWalduck([...args(file, 'swap_keyless', 'ka,kb'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  // The row under ka after the renames is the old kb's (no key): the renamed ka can be copied again,
  // the table that took its name cannot, and the line must say which and why.
  psql(
    c.info,
    `BEGIN;
     ALTER TABLE ka RENAME TO ka_tmp; ALTER TABLE kb RENAME TO ka; ALTER TABLE ka_tmp RENAME TO kb;
     INSERT INTO ka VALUES (2, 20);
     COMMIT;`,
  );
  const r = await runWalduck([...args(file, 'swap_keyless', 'kb,ka'), '--until-caught-up']);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('walduck:') && !l.includes('warning'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0] ?? '',
    /table public\.ka was renamed to public\.kb in a transaction that also changed rows under the name public\.ka, .* and public\.ka cannot be copied again online/,
  );
});

it('a swap of two tables while others named like their temporary names are followed too', {
  timeout: 180_000,
}, async () => {
  createPair('ta', 'tb');
  // Whichever place each of the two takes in the set, its first temporary name is a followed table.
  const others = ['ta', 'tb'].flatMap((t) => [0, 1].map((i) => `${t}__walduck_swap_${i}`));
  for (const o of others)
    psql(c.info, `CREATE TABLE ${o} (id int PRIMARY KEY, v text); INSERT INTO ${o} VALUES (1, '${o}');`);
  const file = 'temporary-names.duckdb';
  const tables = ['ta', 'tb', ...others].join(',');
  const first = await runWalduck([...args(file, 'swap_temporary', tables), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  swap('ta', 'tb');
  const again = await runWalduck([...args(file, 'swap_temporary', tables), '--until-caught-up']);
  assert.equal(again.code, 0, again.stderr);
  await assertSwapped(file, 'ta', 'tb', others);
});

it('a swap, then one of the two dropped: the drop is the dropped table (by oid), the other follows under its new name', {
  timeout: 180_000,
}, async () => {
  createPair('da', 'db');
  const file = 'swap-drop.duckdb';
  // The old da, named db after the swap, is dropped right after it: the once-a-second catalog check
  // may see its oid gone before the stream reaches the swap, while da is still its recorded name.
  const stderr = await whileRunning(
    file,
    'swap_drop',
    'da,db',
    () =>
      psql(
        c.info,
        `BEGIN;
         ALTER TABLE da RENAME TO da_tmp; ALTER TABLE db RENAME TO da; ALTER TABLE da_tmp RENAME TO db;
         COMMIT;
         DROP TABLE db;
         INSERT INTO da VALUES (70, 700, 'old db, after the drop');`,
      ),
    (log) =>
      /public\.db: RENAME TABLE to public\.da applied at LSN/.test(log) &&
      /table public\.db was dropped at the source/.test(log),
  );
  assert.doesNotMatch(stderr, /table public\.da was dropped|re-copying|online copy/);
  const done = await runWalduck([...args(file, 'swap_drop', 'da'), '--until-caught-up']);
  assert.equal(done.code, 0, done.stderr);
  await assertReplicaEquals(c.info, join(dir, file), [pub('da')]);
  const states = (await statusJson(join(dir, file))).map((x) => [x.table, x.state]);
  assert.deepEqual(
    states.sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    [
      ['public.da', 'streaming'],
      ['public.db', 'stopped'],
    ],
  );
});
