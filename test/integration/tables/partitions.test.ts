// Partitioned tables replicate as ONE DuckDB table: the snapshot through the root, the changes of
// every leaf (at any depth, created or attached while walduck runs) routed to it, rows moving between
// partitions, a leaf's TRUNCATE, and the rows an ATTACH, DETACH or DROP of a partition moves without
// WAL, healed by re-copying the root online (refused in one line when it cannot be copied by key).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql, psqlArgs } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import {
  replicateArgs,
  runWalduck,
  startWalduck,
  startWatched,
  type WatchedRun,
} from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-part-');

const PT = { schema: 'public', table: 'pt' };
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

/** Runs walduck until `line` shows in its debug log, then lets `during` write, then stops it (SIGINT). */
async function whileRunning(
  argv: string[],
  line: string,
  during: () => Promise<void> | void,
  until?: string,
): Promise<string> {
  const run = startWalduck(argv, { DEBUG: 'walduck:replicate,walduck:sink' });
  let err = '';
  const waitFor = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (err.includes(text)) resolve();
      };
      run.child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        check();
      });
      check();
      run.done.then((r) => reject(new Error(`walduck ended before "${text}": ${r.stderr}`)));
    });
  try {
    await waitFor(line);
    await during();
    if (until) await waitFor(until);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  return r.stderr;
}

/** A writer: a psql script of small transactions, run to its end (a move onto a taken key just fails). */
function writer(name: string, sql: string): Promise<void> {
  const file = join(dir, `${name}.sql`);
  writeFileSync(file, sql);
  const p = spawn('psql', [...psqlArgs(c.info), '-v', 'ON_ERROR_STOP=0', '-q', '-f', file], {
    stdio: 'ignore',
  });
  return new Promise((resolve, reject) =>
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${name} failed`)))),
  );
}

function moves(seed: number, n: number, maxId: number): string {
  let x = seed;
  const rand = (k: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % k;
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = rand(maxId);
    switch (rand(5)) {
      case 0:
        out.push(`INSERT INTO pt VALUES (${id}, ${rand(300)}, 'w${i}') ON CONFLICT DO NOTHING;`);
        break;
      case 1: // moves the row to another partition (DELETE + INSERT on the leaves)
        out.push(`UPDATE pt SET region = ${rand(300)}, note = note || 'm' WHERE id = ${id};`);
        break;
      case 2:
        out.push(`UPDATE pt SET note = 'u${i}' WHERE id = ${id};`);
        break;
      case 3:
        out.push(`DELETE FROM pt WHERE id = ${id};`);
        break;
      default:
        out.push(
          `BEGIN; UPDATE pt SET region = (region + 100) % 300 WHERE id = ${id}; UPDATE pt SET note = 'x' WHERE id = ${id}; COMMIT;`,
        );
    }
  }
  return out.join('\n');
}

describe('partitioned tables', () => {
  it('route every leaf (any depth) to the root, moves included, snapshot through the root', async () => {
    psql(
      c.info,
      `CREATE TABLE pt (id int, region int, note text, PRIMARY KEY (id, region)) PARTITION BY RANGE (region);
       CREATE TABLE pt_a PARTITION OF pt FOR VALUES FROM (0) TO (100);
       CREATE TABLE pt_b PARTITION OF pt FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (region);
       CREATE TABLE pt_b0 PARTITION OF pt_b FOR VALUES FROM (100) TO (150);
       CREATE TABLE pt_b1 PARTITION OF pt_b FOR VALUES FROM (150) TO (200);
       CREATE TABLE pt_c PARTITION OF pt DEFAULT;
       INSERT INTO pt SELECT g, g * 3 % 300, 'n' || g FROM generate_series(1, 100) g;`,
    );
    const first = await runWalduck([...args('p.duckdb', '--tables', 'public.pt'), '--until-caught-up']);
    assert.equal(first.code, 0, first.stderr);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
    // The issue's case: 200 inserts and 9 updates into the partitions after the snapshot.
    psql(
      c.info,
      `INSERT INTO pt SELECT g, g % 300, 'later' FROM generate_series(101, 300) g;
       UPDATE pt SET note = 'upd' WHERE id BETWEEN 1 AND 9;`,
    );
    await writer('moves', moves(11, 400, 320));
    const r = await runWalduck([...args('p.duckdb', '--tables', 'public.pt'), '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Number(psql(c.info, 'SELECT count(*) >= 250 FROM pt') === 't' ? 1 : 0), 1);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
    const tables = await duckQuery(
      join(dir, 'p.duckdb'),
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
    );
    assert.deepEqual(tables, [['pt']]);
  });

  it('follow partitions created and (empty) attached while walduck runs, under a writer', async () => {
    const argv = args('p.duckdb', '--tables', 'public.pt');
    await whileRunning(
      argv,
      'streaming from slot',
      async () => {
        const w = writer('running', moves(5, 300, 400));
        psql(
          c.info,
          `CREATE TABLE pt_d PARTITION OF pt FOR VALUES FROM (300) TO (400);
           INSERT INTO pt SELECT g, 300 + g % 100, 'new part' FROM generate_series(1000, 1099) g;
           CREATE TABLE pt_e (LIKE pt INCLUDING ALL);
           ALTER TABLE pt ATTACH PARTITION pt_e FOR VALUES FROM (400) TO (500);
           INSERT INTO pt SELECT g, 400 + g % 100, 'attached' FROM generate_series(2000, 2049) g;
           UPDATE pt SET region = 450 WHERE id BETWEEN 1000 AND 1009;`,
        );
        await w;
        psql(c.info, 'INSERT INTO pt VALUES (9999, 499, $$last$$)');
      },
      // Seen by the running walduck: the attached partition's changes reach the root.
      'partition public.pt_e routed to public.pt',
    );
    const r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
  });

  it("apply a leaf's TRUNCATE to its rows only, and the root's to all", async () => {
    const argv = args('p.duckdb', '--tables', 'public.pt');
    psql(c.info, 'TRUNCATE pt_a');
    let r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
    assert.ok(Number((await duckQuery(join(dir, 'p.duckdb'), 'SELECT count(*) FROM pt'))[0]?.[0]) > 0);
    psql(c.info, 'TRUNCATE pt');
    r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
  });

  it('re-copy the root online when a table is attached with rows, or a partition detached, while walduck was stopped', async () => {
    const argv = args('p.duckdb', '--tables', 'public.pt', '--copy-chunk-rows', '100');
    psql(
      c.info,
      `INSERT INTO pt SELECT g, g % 300, 'again' FROM generate_series(1, 50) g ON CONFLICT DO NOTHING;
       CREATE TABLE pt_full (LIKE pt INCLUDING ALL);
       INSERT INTO pt_full VALUES (7000, 550, 'was here before');`,
    );
    let r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, 'ALTER TABLE pt ATTACH PARTITION pt_full FOR VALUES FROM (500) TO (600)');
    psql(c.info, "INSERT INTO pt VALUES (7001, 551, 'after')");
    r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.pt: table public\.pt_full was attached as a partition while holding rows since the replica's last commit \(while walduck was stopped, or in a run that ended before its next commit\): re-copying public\.pt online/,
    );
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
    psql(c.info, 'ALTER TABLE pt DETACH PARTITION pt_b');
    psql(c.info, "INSERT INTO pt VALUES (7002, 10, 'after detach')");
    r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /partition public\.pt_b\d is no longer part of it .*re-copying public\.pt online/);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
  });

  it('re-copy the root online, under a writer, when a table with rows is attached and partitions detached or dropped while walduck runs', async () => {
    psql(
      c.info,
      `CREATE TABLE pt_x (LIKE pt INCLUDING ALL);
       INSERT INTO pt_x SELECT g, 100 + g % 100, 'standalone' FROM generate_series(5000, 5299) g;`,
    );
    const argv = args('p.duckdb', '--tables', 'public.pt', '--copy-chunk-rows', '50');
    const run = started(argv);
    const done = /online copy of public\.pt: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/;
    try {
      await run.waitFor(/streaming from slot/);
      let from = run.text().length;
      psql(c.info, 'ALTER TABLE pt ATTACH PARTITION pt_x FOR VALUES FROM (100) TO (200)');
      // The writer moves rows in and out of the attached table while the root is copied again.
      let batches = await writeUntil(run.waitFor(done, from), (i) => moves(21 + i, 60, 5300));
      assert.ok(batches >= 1);
      assert.match(
        run.text().slice(from),
        /public\.pt: table public\.pt_x was attached as a partition while holding rows \(an ATTACH writes no WAL for them\), seen at LSN [0-9A-F]+\/[0-9A-F]+: re-copying public\.pt online/,
      );
      from = run.text().length;
      psql(c.info, 'ALTER TABLE pt DETACH PARTITION pt_x; DROP TABLE pt_e');
      batches = await writeUntil(run.waitFor(done, from), (i) => moves(41 + i, 60, 5300));
      assert.ok(batches >= 1);
      assert.match(
        run.text().slice(from),
        /partition public\.pt_x was detached \(its rows left without WAL\)/,
      );
      assert.match(
        run.text().slice(from),
        /partition public\.pt_e was dropped \(its rows left without WAL\)/,
      );
    } finally {
      run.child.kill('SIGINT');
    }
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const last = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(last.code, 0, last.stderr);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
    // The detached table's own rows are not the root's any more.
    const stray = await duckQuery(join(dir, 'p.duckdb'), "SELECT count(*) FROM pt WHERE note = 'standalone'");
    assert.equal(
      Number(stray[0]?.[0]),
      Number(psql(c.info, "SELECT count(*) FROM pt WHERE note = 'standalone'")),
    );
  });

  it('a kill -9 after a re-copy was decided resumes it: the decision is committed with the stream position', async () => {
    const argv = args('p.duckdb', '--tables', 'public.pt', '--copy-chunk-rows', '20');
    // Enough rows for a copy of some 200 chunks: the kill lands long before its last one.
    psql(c.info, "INSERT INTO pt SELECT g, 250, 'bulk' FROM generate_series(10000, 13999) g");
    const run = started(argv);
    try {
      await run.waitFor(/streaming from slot/);
      psql(c.info, 'ALTER TABLE pt DETACH PARTITION pt_a');
      // Transactions in the stream, until walduck looks at the partitions again (about once a second).
      await writeUntil(
        run.waitFor(/re-copying public\.pt online/),
        (i) => `INSERT INTO pt VALUES (${8000 + i}, 260, 'tick');`,
      );
      // The copier starts only once the decision is committed: its first chunk proves the commit.
      await run.waitFor(/online copy of public\.pt: chunk 1 wrote/);
    } finally {
      run.child.kill('SIGKILL');
    }
    await run.done;
    psql(c.info, "INSERT INTO pt VALUES (7003, 250, 'after the kill')");
    const r = await runWalduck([...argv, '--until-caught-up'], { DEBUG: 'walduck:sink' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /online copy of public\.pt (resumes after|starts)/);
    await assertReplicaEquals(c.info, join(dir, 'p.duckdb'), [PT]);
  });

  it('refuse, in one line, a re-copy of a partitioned root that cannot be copied in key chunks', async () => {
    psql(
      c.info,
      `CREATE TABLE nk (id int, v text) PARTITION BY RANGE (id);
       CREATE TABLE nk_a PARTITION OF nk FOR VALUES FROM (0) TO (100);
       CREATE TABLE nk_b PARTITION OF nk FOR VALUES FROM (100) TO (200);
       ALTER TABLE nk REPLICA IDENTITY FULL; ALTER TABLE nk_a REPLICA IDENTITY FULL; ALTER TABLE nk_b REPLICA IDENTITY FULL;
       INSERT INTO nk VALUES (1, 'a'), (150, 'b');`,
    );
    const argv = args('nk.duckdb', '--tables', 'public.nk');
    let r = await runWalduck([...argv, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, 'ALTER TABLE nk DETACH PARTITION nk_b');
    r = await runWalduck([...argv, '--until-caught-up']);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /public\.nk: partition public\.nk_b is no longer part of it .*cannot be re-copied online/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});

/** A running walduck whose debug log can be waited on, from an offset. */
const started = (argv: string[]): WatchedRun => startWatched(argv, 'walduck:replicate,walduck:sink');

/**
 * Writer batches, one after another, until `until` settles (it rejects if walduck ends first), at most
 * `max` of them: an unpaced writer on a loaded machine can outrun the stream, and the copy, whose high
 * watermarks wait for the stream, would then never end (seen in CI at load 5-8: 1985 batches, the slot
 * 8 MB behind and growing). The first batches overlap the copy's first chunks, which is the point.
 */
async function writeUntil(until: Promise<void>, batch: (i: number) => string, max = 25): Promise<number> {
  let done = false;
  const end = until.finally(() => {
    done = true;
  });
  end.catch(() => {});
  let i = 0;
  while (!done && i < max) await writer(`batch-${i}`, batch(i++));
  await end;
  return i;
}
