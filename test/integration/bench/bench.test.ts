// walduck bench on a given server: a table with every contender per cell, ratios to pg_recvlogical,
// and nothing left behind (its schema and slots dropped; other objects untouched).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';

const c = useCluster();
const out = mkdtempSync(join(tmpdir(), 'walduck-bench-test-'));
after(() => rmSync(out, { recursive: true, force: true }));

it('measures every contender over the same range and drops only what it created', async () => {
  psql(c.info, 'CREATE TABLE keep_me (id int PRIMARY KEY)');
  psql(c.info, "SELECT pg_create_logical_replication_slot('keep_slot', 'wal2json')");
  const r = await runWalduck(
    [
      'bench',
      '--source',
      conninfo(c.info, 'superuser'),
      '--rows',
      '500',
      '--repeat',
      '1',
      '--formats',
      'v2,v1',
      '--workloads',
      '1,3',
      '--out',
      out,
    ],
    {},
    120_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('| 500 inserts') || l.startsWith('| 100 updates'));
  // 2 workloads x 2 formats x 4 contenders, + the Node peer in v2; pg_recvlogical's ratio being 1
  // by definition, and the peer's ratio to itself too.
  assert.equal(rows.length, 18, r.stdout);
  for (const row of rows.filter((l) => l.includes('| pg_recvlogical |'))) assert.match(row, /\| 1\.00 \|/);
  const peerRows = rows.filter((l) => l.includes('| pg-logical-replication |'));
  assert.equal(peerRows.length, 2, r.stdout);
  for (const row of peerRows) assert.match(row, /\| v2 \|.*\| 1\.00 \|/);
  // walduck replicate has its ratio to the peer where the peer ran, and none where it did not.
  for (const row of rows.filter((l) => l.includes('| replicate |')))
    assert.match(row, row.includes('| v2 |') ? /\| \d+\.\d\d \| \d+\.\d\d \|/ : /\| \d+\.\d\d \| – \|/);
  const files = readdirSync(out).sort();
  assert.deepEqual(
    files.map((f) => f.replace(/bench-[\d-T]+/, 'bench')),
    ['bench.json', 'bench.md'],
  );
  // The peer saw every change of the workload (the bench refuses a count that differs; this checks
  // the count is carried to the JSON at all).
  const report = JSON.parse(readFileSync(join(out, files[0] ?? ''), 'utf8')) as {
    cells: {
      workload: string;
      format: string;
      changes: number;
      runs: Record<string, { changes?: number }[]>;
    }[];
  };
  const seen = report.cells
    .filter((cell) => cell.format === 'v2')
    .map((cell) => [cell.changes, cell.runs['pg-logical-replication']?.map((run) => run.changes)]);
  assert.deepEqual(seen, [
    [500, [500]],
    [200, [200]],
  ]);
  assert.equal(psql(c.info, "SELECT count(*) FROM pg_namespace WHERE nspname = 'walduck_bench'"), '0');
  assert.equal(psql(c.info, 'SELECT string_agg(slot_name, $$,$$) FROM pg_replication_slots'), 'keep_slot');
  assert.equal(psql(c.info, "SELECT count(*) FROM pg_class WHERE relname = 'keep_me'"), '1');
});

it('refuses a usage error with exit 2', async () => {
  const r = await runWalduck(['bench', '--formats', 'v3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown format "v3"/);
});

it('runs replicate-alt with --alt-args added, and only it', async () => {
  const base = ['bench', '--source', conninfo(c.info, 'superuser'), '--rows', '300', '--repeat', '1'];
  const opts = ['--formats', 'v2', '--workloads', '1', '--out', out];
  const ok = await runWalduck(
    [
      ...base,
      ...opts,
      '--contenders',
      'pg_recvlogical,replicate,replicate-alt',
      '--alt-args=--batch-changes 7',
    ],
    {},
    120_000,
  );
  assert.equal(ok.code, 0, ok.stderr);
  const rows = ok.stdout.split('\n').filter((l) => l.startsWith('| 300 inserts'));
  assert.deepEqual(
    rows.map((l) => l.split('|')[3]?.trim()),
    ['pg_recvlogical', 'replicate', 'replicate-alt'],
  );
  // An argument replicate refuses shows the arguments reach replicate-alt (and not replicate).
  const bad = await runWalduck(
    [
      ...base,
      ...opts,
      '--contenders',
      'pg_recvlogical,replicate,replicate-alt',
      '--alt-args=--batch-changes 0',
    ],
    {},
    120_000,
  );
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--batch-changes must be a positive whole number/);
  const alone = await runWalduck([...base, ...opts, '--contenders', 'pg_recvlogical,replicate-alt']);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--alt-args and the contender replicate-alt go together/);
  assert.equal(psql(c.info, "SELECT count(*) FROM pg_namespace WHERE nspname = 'walduck_bench'"), '0');
});
