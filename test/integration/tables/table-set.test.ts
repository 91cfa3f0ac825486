// The table set is part of the replica: recorded in walduck.tables, compared on every start, new
// tables picked up in all-tables mode (created while walduck runs, all rows), tables that cannot be
// replicated named and skipped, removed ones left and stopped (or dropped), `walduck status`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { replicateArgs, runWalduck, startWalduck, statusJson } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-set-');

const t = (table: string) => ({ schema: 'public', table });
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

async function status(file: string): Promise<Record<string, unknown>[]> {
  return await statusJson(join(dir, file));
}

/** A replicate left running (all debug lines on stderr), and a wait for a text on its stderr. */
function following(argv: readonly string[]) {
  const run = startWalduck([...argv], { DEBUG: 'walduck:*' });
  let err = '';
  run.child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (err.includes(text)) resolve();
      };
      run.child.stderr?.on('data', check);
      run.done.then((x) => reject(new Error(x.stderr)));
      check();
    });
  return { run, seen };
}

describe('the table set', () => {
  it('all tables: a table created while walduck runs joins with all its rows; unreplicable ones are named and skipped', async () => {
    psql(
      c.info,
      `CREATE TABLE a (id int PRIMARY KEY, v text);
       INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 50) g;
       CREATE TABLE nokey (v text);
       CREATE UNLOGGED TABLE fast (id int PRIMARY KEY);
       CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY HASH (id);
       CREATE TABLE parted_0 PARTITION OF parted FOR VALUES WITH (MODULUS 2, REMAINDER 0);
       CREATE TABLE parted_1 PARTITION OF parted FOR VALUES WITH (MODULUS 2, REMAINDER 1);
       INSERT INTO parted SELECT generate_series(1, 20);`,
    );
    const argv = args('all.duckdb', '--slot', 'all_slot');
    const { run, seen } = following(argv);
    await seen('streaming from slot');
    psql(
      c.info,
      `CREATE TABLE born (id bigint PRIMARY KEY, v text);
       INSERT INTO born SELECT g, 'b' || g FROM generate_series(1, 100) g;
       UPDATE born SET v = 'changed' WHERE id <= 10;
       DELETE FROM born WHERE id > 90;
       INSERT INTO a VALUES (51, 'while running');
       INSERT INTO parted SELECT generate_series(21, 40);`,
    );
    await seen('new table public.born');
    run.child.kill('SIGINT');
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /not replicating public\.nokey: no primary key/);
    assert.match(first.stderr, /not replicating public\.fast \(unlogged\)/);
    // Restarted: the rows that passed while it ran are all there, none filtered out.
    psql(c.info, "INSERT INTO born VALUES (1000, 'after restart')");
    const r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'all.duckdb'), [t('a'), t('born'), t('parted')]);
    const tables = await duckQuery(
      join(dir, 'all.duckdb'),
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
    );
    assert.deepEqual(tables, [['a'], ['born'], ['parted']]);
    const s = await status('all.duckdb');
    assert.deepEqual(
      s.map((x) => [x.table, x.state, x.partitions]),
      [
        ['public.a', 'streaming', []],
        ['public.born', 'streaming', []],
        // Skipped by the start (no key), recorded so: the slot passed its rows.
        ['public.nokey', 'skipped', []],
        ['public.parted', 'streaming', ['public.parted_0', 'public.parted_1']],
      ],
    );
    const lsn = await duckQuery(
      join(dir, 'all.duckdb'),
      "SELECT lsn FROM walduck.state WHERE slot = 'all_slot'",
    );
    assert.equal(s[0]?.lsn, lsn[0]?.[0]);
  });

  it('--tables: a removed table is left and stopped (one line), --drop-removed drops it, one named again is copied online', async () => {
    psql(
      c.info,
      `CREATE TABLE x (id int PRIMARY KEY); CREATE TABLE y (id int PRIMARY KEY);
       INSERT INTO x SELECT generate_series(1, 10); INSERT INTO y SELECT generate_series(1, 10);`,
    );
    let r = await runWalduck([
      ...args('set.duckdb', '--slot', 'set_slot', '--tables', 'x,y'),
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, 'INSERT INTO y SELECT generate_series(11, 20)');
    r = await runWalduck([...args('set.duckdb', '--slot', 'set_slot', '--tables', 'x'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /public\.y is no longer in the table set: its DuckDB table is left as it is/);
    assert.equal(r.stderr.split('\n').filter((l) => l.includes('public.y')).length, 1, r.stderr);
    assert.deepEqual(await duckQuery(join(dir, 'set.duckdb'), 'SELECT count(*)::INT FROM y'), [[10]]);
    const s = await status('set.duckdb');
    assert.deepEqual(
      s.map((x) => [x.table, x.state]),
      [
        ['public.x', 'streaming'],
        ['public.y', 'stopped'],
      ],
    );
    // Named again: never streamed into a table that missed rows, but copied online, its stale rows
    // replaced (it missed 11..20 while stopped).
    r = await runWalduck([
      ...args('set.duckdb', '--slot', 'set_slot', '--tables', 'x,y'),
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /table public\.y joins the table set of an existing replica \(recorded as stopped\): it is copied online/,
    );
    await assertReplicaEquals(c.info, join(dir, 'set.duckdb'), [t('x'), t('y')]);
    r = await runWalduck([
      ...args('set.duckdb', '--slot', 'set_slot', '--tables', 'x'),
      '--until-caught-up',
      '--drop-removed',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.y is no longer in the table set: --drop-removed dropped its DuckDB table/,
    );
    const left = await duckQuery(
      join(dir, 'set.duckdb'),
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
    );
    assert.deepEqual(left, [['x']]);
    assert.deepEqual(
      (await status('set.duckdb')).map((x) => [x.table, x.state]),
      [['public.x', 'streaming']],
    );
    await assertReplicaEquals(c.info, join(dir, 'set.duckdb'), [t('x')]);
  });

  it('a chosen table whose DuckDB table a stopped one holds ("Items" and items) is refused, the file untouched; --drop-removed makes room', async () => {
    psql(
      c.info,
      `CREATE TABLE "Items" (id int PRIMARY KEY, v text); CREATE TABLE items (id int PRIMARY KEY, v text);
       INSERT INTO "Items" VALUES (1, 'kept'), (2, 'kept'); INSERT INTO items VALUES (3, 'new');`,
    );
    const set = (tables: string, ...more: string[]) => [
      ...args('case.duckdb', '--slot', 'case_slot', '--tables', tables),
      '--until-caught-up',
      ...more,
    ];
    let r = await runWalduck(set('public."Items"'));
    assert.equal(r.code, 0, r.stderr);
    r = await runWalduck(set('items'));
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /public\.items would land in DuckDB table main\.items, which holds public\."Items", no longer followed and left as it is .*--drop-removed/,
    );
    // Before, an online copy of items replaced the rows kept for "Items", exit 0.
    assert.deepEqual(
      await duckQuery(join(dir, 'case.duckdb'), 'SELECT id, v FROM main."Items" ORDER BY id'),
      [
        [1, 'kept'],
        [2, 'kept'],
      ],
    );
    assert.deepEqual(
      (await status('case.duckdb')).map((x) => [x.table, x.state]),
      [['public."Items"', 'streaming']],
    );
    r = await runWalduck(set('items', '--drop-removed'));
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'case.duckdb'), [t('items')]);
    // The next test replicates all tables of this database: two that land together would stop it.
    psql(c.info, 'DROP TABLE "Items", items');
  });

  it('all tables: a table created while streaming whose DuckDB table a stopped one holds stops walduck with one line', async () => {
    psql(
      c.info,
      'CREATE SCHEMA sc; CREATE TABLE sc.keep (id int PRIMARY KEY); CREATE TABLE sc."Gone" (id int PRIMARY KEY); INSERT INTO sc."Gone" VALUES (1);',
    );
    const argv = args('casestream.duckdb', '--slot', 'casestream_slot');
    let r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, 'DROP TABLE sc."Gone"');
    r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    // "Gone" is stopped now, not followed: only the table set knows its DuckDB table is taken.
    const { run, seen } = following(argv);
    await seen('streaming from slot');
    psql(c.info, 'CREATE TABLE sc.gone (id int PRIMARY KEY); INSERT INTO sc.gone VALUES (7);');
    r = await run.done;
    assert.notEqual(r.code, 0);
    const failed = r.stderr.split('\n').filter((l) => l.startsWith('walduck: ') && !l.includes('warning'));
    assert.equal(failed.length, 1, r.stderr);
    assert.match(
      failed[0] ?? '',
      /sc\.gone would land in DuckDB table sc\.gone, which holds sc\."Gone", no longer followed/,
    );
    assert.deepEqual(await duckQuery(join(dir, 'casestream.duckdb'), 'SELECT id FROM sc."Gone"'), [[1]]);
    r = await runWalduck([...argv, '--until-caught-up', '--drop-removed']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'casestream.duckdb'), [{ schema: 'sc', table: 'gone' }]);
  });

  it('a table dropped and created again while walduck was stopped is copied online, not streamed into the old rows', async () => {
    psql(
      c.info,
      "CREATE TABLE again (id int PRIMARY KEY, v text); INSERT INTO again VALUES (1, 'old'), (2, 'old')",
    );
    const argv = [...args('again.duckdb', '--slot', 'again_slot', '--tables', 'again'), '--until-caught-up'];
    let r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    psql(
      c.info,
      `DROP TABLE again; CREATE TABLE again (id int PRIMARY KEY, v text);
       INSERT INTO again VALUES (5, 'new'); UPDATE again SET v = 'newer' WHERE id = 5`,
    );
    // Before, the stream's INSERT and UPDATE went on top of rows 1 and 2, which no change in WAL
    // removes: DuckDB held 1, 2 and 5, exit 0.
    r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.again \(oid \d+\) was dropped and created again \(oid \d+\) since the replica's last commit \(while walduck was stopped, or in a run that ended before its next commit\): re-copying it online/,
    );
    await assertReplicaEquals(c.info, join(dir, 'again.duckdb'), [t('again')]);
    // The record follows the new table now: the next start changes nothing.
    r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /created again/);
  });

  it('a followed table dropped and created again while streaming is re-copied online, not mixed with the dropped rows', async () => {
    psql(
      c.info,
      "CREATE TABLE twice (id int PRIMARY KEY, v text); INSERT INTO twice VALUES (1, 'old'), (2, 'old')",
    );
    const argv = args('twice.duckdb', '--slot', 'twice_slot', '--tables', 'twice');
    const r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    const { run, seen } = following(argv);
    await seen('streaming from slot');
    psql(
      c.info,
      `DROP TABLE twice; CREATE TABLE twice (id int PRIMARY KEY, v text);
       INSERT INTO twice VALUES (5, 'new'); UPDATE twice SET v = 'newer' WHERE id = 5`,
    );
    // Before, the new table's rows went in among 1 and 2, which no change in WAL removes, silently.
    await seen('re-copying it online over the dropped table');
    await seen(', done');
    run.child.kill('SIGINT');
    const stopped = await run.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    psql(c.info, "INSERT INTO twice VALUES (6, 'after')");
    // The record follows the new table: the next start copies nothing again.
    const caught = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(caught.code, 0, caught.stderr);
    assert.doesNotMatch(caught.stderr, /created again|joins the table set/);
    await assertReplicaEquals(c.info, join(dir, 'twice.duckdb'), [t('twice')]);
  });

  it('a followed table seen dropped while streaming, then created again, is re-copied online', async () => {
    psql(c.info, "CREATE TABLE later (id int PRIMARY KEY, v text); INSERT INTO later VALUES (1, 'old')");
    const argv = args('later.duckdb', '--slot', 'later_slot', '--tables', 'later');
    const r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    const { run, seen } = following(argv);
    await seen('streaming from slot');
    psql(c.info, 'DROP TABLE later');
    await seen('table public.later was dropped at the source');
    // Before, the name stayed routed to the dropped table's DuckDB table: 1 and 7 side by side.
    psql(c.info, "CREATE TABLE later (id int PRIMARY KEY, v text); INSERT INTO later VALUES (7, 'new')");
    await seen('was dropped and created again at the source');
    await seen(', done');
    run.child.kill('SIGINT');
    const stopped = await run.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    const caught = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(caught.code, 0, caught.stderr);
    await assertReplicaEquals(c.info, join(dir, 'later.duckdb'), [t('later')]);
  });

  it('a start that decides nothing new leaves the records as they were; one that does rewrites them', async () => {
    psql(
      c.info,
      'CREATE TABLE same_a (id int PRIMARY KEY); CREATE TABLE same_b (id int PRIMARY KEY); INSERT INTO same_a VALUES (1)',
    );
    const start = async (tables: string) => {
      const r = await runWalduck([
        ...args('same.duckdb', '--slot', 'same_slot', '--tables', tables),
        '--until-caught-up',
      ]);
      assert.equal(r.code, 0, r.stderr);
      return await duckQuery(
        join(dir, 'same.duckdb'),
        'SELECT source_table, state, CAST(epoch_us(updated_at) AS VARCHAR) FROM walduck.tables ORDER BY 1',
      );
    };
    const first = await start('same_a,same_b');
    psql(c.info, 'INSERT INTO same_a VALUES (2)');
    // Rows streamed, no table added, removed or renamed: the records stay as written.
    assert.deepEqual(await start('same_a,same_b'), first);
    const third = await start('same_a');
    assert.deepEqual(
      third.map((r) => r.slice(0, 2)),
      [
        ['same_a', 'streaming'],
        ['same_b', 'stopped'],
      ],
    );
    assert.notDeepEqual(third[0], first[0]);
    await assertReplicaEquals(c.info, join(dir, 'same.duckdb'), [t('same_a')]);
  });
  it('two chosen tables landing together ("Deals" and deals) are refused before the set records either; a file recording both keeps the rows under --drop-removed', async () => {
    psql(
      c.info,
      `CREATE TABLE "Deals" (id int PRIMARY KEY, v text); CREATE TABLE deals (id int PRIMARY KEY, v text);
       INSERT INTO "Deals" VALUES (1, 'D'), (2, 'D'); INSERT INTO deals VALUES (3, 'd');`,
    );
    const file = join(dir, 'deals.duckdb');
    const set = (tables: string, ...more: string[]) => [
      ...args('deals.duckdb', '--slot', 'deals_slot', '--tables', tables),
      '--until-caught-up',
      ...more,
    ];
    let r = await runWalduck(set('public."Deals"'));
    assert.equal(r.code, 0, r.stderr);
    r = await runWalduck(set('public."Deals",deals'));
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /source tables public\."Deals" and public\.deals would both land in DuckDB table main\.deals/,
    );
    // Before, that start recorded deals (copying) first: the next start without it took deals for a
    // stopped table holding "Deals"'s DuckDB table and was refused, and --drop-removed dropped the rows.
    assert.deepEqual(
      (await status('deals.duckdb')).map((x) => [x.table, x.state]),
      [['public."Deals"', 'streaming']],
    );
    psql(c.info, `INSERT INTO "Deals" VALUES (4, 'D')`);
    r = await runWalduck(set('public."Deals"'));
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, file, [t('Deals')]);
    // A file that records both already (an older walduck): --drop-removed forgets deals, not the rows.
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(
      `INSERT INTO walduck.tables (slot, source_schema, source_table, target_schema, target_table, state, updated_at)
         VALUES ('deals_slot', 'public', 'deals', 'main', 'deals', 'copying', now())`,
    );
    conn.closeSync();
    db.closeSync();
    r = await runWalduck(set('public."Deals"', '--drop-removed'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.deals is no longer in the table set; its DuckDB table main\.deals is not dropped: it holds the rows of public\."Deals"/,
    );
    await assertReplicaEquals(c.info, file, [t('Deals')]);
    assert.deepEqual(
      (await status('deals.duckdb')).map((x) => [x.table, x.state]),
      [['public."Deals"', 'streaming']],
    );
    psql(c.info, 'DROP TABLE "Deals", deals');
  });
  it('a table joining a replica whose DuckDB table holds rows walduck did not write for it (made by hand) is refused, the rows kept', async () => {
    psql(
      c.info,
      `CREATE TABLE own_a (id int PRIMARY KEY); CREATE TABLE own_b (id int PRIMARY KEY, v text);
       INSERT INTO own_a VALUES (1); INSERT INTO own_b VALUES (2, 'source');`,
    );
    const file = join(dir, 'own.duckdb');
    const set = (tables: string) => [
      ...args('own.duckdb', '--slot', 'own_slot', '--tables', tables),
      '--until-caught-up',
    ];
    let r = await runWalduck(set('own_a'));
    assert.equal(r.code, 0, r.stderr);
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(
      `CREATE TABLE main."Own_B" (id int, v text); INSERT INTO main."Own_B" VALUES (99, 'mine')`,
    );
    conn.closeSync();
    db.closeSync();
    r = await runWalduck(set('own_a,own_b'));
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /public\.own_b joins this replica, but its DuckDB table main\."Own_B" already holds rows walduck did not write for it/,
    );
    // Before, the online copy of own_b replaced the row made by hand, exit 0.
    assert.deepEqual(await duckQuery(file, 'SELECT id, v FROM main."Own_B"'), [[99, 'mine']]);
    assert.deepEqual(
      (await status('own.duckdb')).map((x) => [x.table, x.state]),
      [['public.own_a', 'streaming']],
    );
    psql(c.info, 'DROP TABLE own_a, own_b');
  });
  it('all tables: a table created while streaming whose DuckDB table holds rows made by hand stops walduck with one line, the rows kept', async () => {
    psql(c.info, 'CREATE TABLE own_keep (id int PRIMARY KEY)');
    const argv = args('ownstream.duckdb', '--slot', 'ownstream_slot');
    const file = join(dir, 'ownstream.duckdb');
    let r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(`CREATE TABLE main.fresh (id int, v text); INSERT INTO main.fresh VALUES (99, 'mine')`);
    conn.closeSync();
    db.closeSync();
    const { run, seen } = following(argv);
    await seen('streaming from slot');
    psql(c.info, "CREATE TABLE fresh (id int PRIMARY KEY, v text); INSERT INTO fresh VALUES (1, 'source');");
    r = await run.done;
    assert.notEqual(r.code, 0);
    const failed = r.stderr.split('\n').filter((l) => l.startsWith('walduck: ') && !l.includes('warning'));
    assert.equal(failed.length, 1, r.stderr);
    assert.match(
      failed[0] ?? '',
      /table public\.fresh was created at the source, but its DuckDB table main\.fresh already holds rows walduck did not write for it/,
    );
    // Before, the source's row joined the one made by hand, exit 0.
    assert.deepEqual(await duckQuery(file, 'SELECT id, v FROM main.fresh'), [[99, 'mine']]);
    psql(c.info, 'DROP TABLE fresh, own_keep');
  });

  it('a start refused part way (a joining table that cannot be copied online) leaves the file as it was: --drop-removed dropped nothing', async () => {
    psql(
      c.info,
      `CREATE TABLE stay (id int PRIMARY KEY); CREATE TABLE leaving (id int PRIMARY KEY);
       CREATE TABLE keyless (v text); ALTER TABLE keyless REPLICA IDENTITY FULL;
       INSERT INTO stay SELECT generate_series(1, 5); INSERT INTO leaving SELECT generate_series(1, 7);
       INSERT INTO keyless VALUES ('a');`,
    );
    const set = (tables: string, ...more: string[]) => [
      ...args('part.duckdb', '--slot', 'part_slot', '--tables', tables),
      '--until-caught-up',
      ...more,
    ];
    let r = await runWalduck(set('stay,leaving'));
    assert.equal(r.code, 0, r.stderr);
    const before = await status('part.duckdb');
    // leaving is removed (--drop-removed: DROP), keyless joins and cannot be copied online (refused).
    r = await runWalduck(set('stay,keyless', '--drop-removed'));
    assert.notEqual(r.code, 0);
    const failed = r.stderr.split('\n').filter((l) => l.startsWith('walduck: ') && !l.includes('warning'));
    assert.equal(failed.length, 1, r.stderr);
    assert.match(
      failed[0] ?? '',
      /table public\.keyless joins the table set of an existing replica, but .*no primary key/,
    );
    // Before, the DROP had committed by itself ahead of the refusal: leaving's rows were gone.
    assert.deepEqual(await duckQuery(join(dir, 'part.duckdb'), 'SELECT count(*)::INT FROM leaving'), [[7]]);
    assert.deepEqual(await status('part.duckdb'), before);
    psql(c.info, 'DROP TABLE stay, leaving, keyless');
  });
});
