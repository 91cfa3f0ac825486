// RENAME TABLE and DROP TABLE at the source write no change to WAL: walduck finds them by oid in its
// once-a-second catalog check. A drop stops following the table (its DuckDB table left, state
// stopped; --drop-removed drops it at the next start); a rename stops walduck with one line, since
// wal2json's add-tables (names) may already have dropped the renamed table's changes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';

const c = useCluster({ database: 'walduck' });
const dir = mkdtempSync(join(tmpdir(), 'walduck-rename-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const t = (table: string) => ({ schema: 'public', table });
const args = (file: string, ...extra: string[]) => [
  'replicate',
  '--source',
  conninfo(c.info, 'scram-sha-256'),
  '--duckdb',
  join(dir, file),
  '--batch-ms',
  '50',
  ...extra,
];

async function status(file: string): Promise<Record<string, unknown>[]> {
  const r = await runWalduck(['status', '--duckdb', join(dir, file), '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Starts walduck and resolves once it streams; `seen(text)` then resolves when stderr holds text. */
async function start(argv: readonly string[]) {
  const run = startWalduck(argv, { DEBUG: 'walduck:replicate' });
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  run.child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0)) {
      if (err.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (err.includes(text)) return resolve();
      waiters.push({ text, resolve });
      run.done.then((r) => reject(new Error(`exited ${r.code} before "${text}": ${r.stderr}`)));
    });
  await seen('streaming from slot');
  return { run, seen };
}

describe('RENAME TABLE and DROP TABLE at the source', () => {
  it('DROP TABLE while running: its changes before the drop are applied, then it is stopped (one line); --drop-removed drops it at the next start', {
    timeout: 120_000,
  }, async () => {
    psql(
      c.info,
      `CREATE TABLE dx (id int PRIMARY KEY); CREATE TABLE dy (id int PRIMARY KEY, v text);
       INSERT INTO dx SELECT generate_series(1, 10); INSERT INTO dy SELECT g, 'y' || g FROM generate_series(1, 10) g;`,
    );
    const argv = args('drop.duckdb', '--slot', 'drop_slot', '--tables', 'dx,dy');
    const { run, seen } = await start(argv);
    // Rows written right before the drop are in WAL before it: they must reach DuckDB.
    psql(c.info, `INSERT INTO dy SELECT g, 'late' FROM generate_series(11, 20) g; DROP TABLE dy;`);
    await seen('table public.dy was dropped at the source');
    // Still running, still following the others.
    psql(c.info, 'INSERT INTO dx SELECT generate_series(11, 20)');
    run.child.kill('SIGINT');
    const first = await run.done;
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr.split('\n').filter((l) => l.includes('public.dy was dropped')).length, 1);
    assert.deepEqual(await duckQuery(join(dir, 'drop.duckdb'), 'SELECT count(*)::INT FROM dy'), [[20]]);
    const s = await status('drop.duckdb');
    assert.deepEqual(
      s.map((x) => [x.table, x.state]),
      [
        ['public.dx', 'streaming'],
        ['public.dy', 'stopped'],
      ],
    );
    let r = await runWalduck([
      ...args('drop.duckdb', '--slot', 'drop_slot', '--tables', 'dx'),
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'drop.duckdb'), [t('dx')]);
    assert.deepEqual(await duckQuery(join(dir, 'drop.duckdb'), 'SELECT count(*)::INT FROM dy'), [[20]]);
    r = await runWalduck([
      ...args('drop.duckdb', '--slot', 'drop_slot', '--tables', 'dx'),
      '--until-caught-up',
      '--drop-removed',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /public\.dy is no longer in the table set: --drop-removed dropped its DuckDB table/,
    );
    assert.deepEqual(
      await duckQuery(
        join(dir, 'drop.duckdb'),
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
      ),
      [['dx']],
    );
  });

  for (const format of ['2', '1']) {
    it(`RENAME TABLE while running stops with one line; restarted with the new name it is copied online and equal (format-version ${format})`, {
      timeout: 120_000,
    }, async () => {
      psql(
        c.info,
        `CREATE TABLE ra_v${format} (id int PRIMARY KEY, v text);
       INSERT INTO ra_v${format} SELECT g, 'a' || g FROM generate_series(1, 10) g;`,
      );
      const argv = args(
        `rename${format}.duckdb`,
        '--slot',
        `rename_slot${format}`,
        '--tables',
        `ra_v${format}`,
        '--format-version',
        format,
      );
      const { run } = await start(argv);
      // Rows before and after the rename, in the same transaction and in separate ones.
      psql(
        c.info,
        `INSERT INTO ra_v${format} VALUES (11, 'before');
       BEGIN; INSERT INTO ra_v${format} VALUES (12, 'same tx'); ALTER TABLE ra_v${format} RENAME TO rb_v${format}; INSERT INTO rb_v${format} VALUES (13, 'same tx'); COMMIT;
       INSERT INTO rb_v${format} VALUES (14, 'after'); UPDATE rb_v${format} SET v = 'changed' WHERE id = 1;`,
      );
      const stopped = await run.done;
      assert.notEqual(stopped.code, 0, stopped.stderr);
      assert.match(
        stopped.stderr,
        new RegExp(
          `table public\\.ra_v${format} was renamed to public\\.rb_v${format} at the source, which walduck does not follow`,
        ),
      );
      const r = await runWalduck([
        ...args(
          `rename${format}.duckdb`,
          '--slot',
          `rename_slot${format}`,
          '--tables',
          `rb_v${format}`,
          '--format-version',
          format,
        ),
        '--until-caught-up',
      ]);
      assert.equal(r.code, 0, r.stderr);
      await assertReplicaEquals(c.info, join(dir, `rename${format}.duckdb`), [t(`rb_v${format}`)]);
      assert.deepEqual(
        (await status(`rename${format}.duckdb`)).map((x) => [x.table, x.state]),
        [
          [`public.ra_v${format}`, 'stopped'],
          [`public.rb_v${format}`, 'streaming'],
        ],
      );
    });
  }

  it('all tables: a table renamed while walduck is stopped is not taken for a new one; it is copied online under its new name', {
    timeout: 120_000,
  }, async () => {
    const info = c.info;
    psql(
      info,
      `CREATE TABLE sa (id int PRIMARY KEY, v text);
       INSERT INTO sa SELECT g, 'a' || g FROM generate_series(1, 10) g;`,
    );
    const argv = [
      'replicate',
      '--source',
      conninfo(info, 'scram-sha-256'),
      '--duckdb',
      join(dir, 'stopped.duckdb'),
      '--batch-ms',
      '50',
      '--slot',
      'stopped_slot',
      '--until-caught-up',
    ];
    let r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    psql(
      info,
      `INSERT INTO sa VALUES (11, 'before');
       ALTER TABLE sa RENAME TO sb;
       INSERT INTO sb VALUES (12, 'after'); UPDATE sb SET v = 'changed' WHERE id = 1;`,
    );
    r = await runWalduck(argv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /table public\.sb joins the table set of an existing replica \(it existed at the last start/,
    );
    await assertReplicaEquals(info, join(dir, 'stopped.duckdb'), [t('sb')]);
    assert.deepEqual(
      (await status('stopped.duckdb'))
        .filter((x) => String(x.table).startsWith('public.s'))
        .map((x) => [x.table, x.state]),
      [
        ['public.sa', 'stopped'],
        ['public.sb', 'streaming'],
      ],
    );
  });
});
