// The slot cannot fill the disk unnoticed, nor follow the wrong server: tables walduck follows that
// never change still let the slot advance while other tables write heavily; a DuckDB file pointed at
// another cluster is refused; a slot held by another consumer is waited for, or taken over.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { connect, parseConnectionString } from '../../../src/protocol/index.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-guard-');

it('advances the slot of idle tables while other tables write heavily', async () => {
  psql(
    c.info,
    'CREATE TABLE quiet (id int PRIMARY KEY); CREATE TABLE busy (id serial PRIMARY KEY, pad text)',
  );
  const file = join(dir, 'quiet.duckdb');
  const run = startWalduck(
    [
      'replicate',
      '--source',
      conninfo(c.info),
      '--duckdb',
      file,
      '--tables',
      'quiet',
      '--slot',
      'quiet',
      '--metrics',
      '127.0.0.1:0',
    ],
    { DEBUG: 'walduck:replicate' },
  );
  let metricsPort = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      run.child.stderr?.on('data', (d: Buffer) => {
        const m = /metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(d.toString());
        if (m) metricsPort = Number(m[1]);
        if (d.toString().includes('streaming from slot')) resolve();
      });
      run.done.then((r) => reject(new Error(`walduck ended before streaming: ${r.stderr}`)));
    });
    const start = psql(c.info, 'SELECT pg_current_wal_lsn()');
    for (let i = 0; i < 10; i++) {
      psql(c.info, "INSERT INTO busy (pad) SELECT repeat('x', 200) FROM generate_series(1, 5000)");
    }
    const end = psql(c.info, 'SELECT pg_current_wal_lsn()');
    const written = Number(psql(c.info, `SELECT '${end}'::pg_lsn - '${start}'::pg_lsn`));
    assert.ok(written > 5_000_000, `the other table wrote ${written} bytes`);
    // The slot's confirmed position follows the server although nothing walduck follows changed.
    while (
      psql(
        c.info,
        `SELECT confirmed_flush_lsn >= '${end}' FROM pg_replication_slots WHERE slot_name = 'quiet'`,
      ) !== 't'
    ) {
      await sleep(200);
    }
    const retained = Number(
      psql(
        c.info,
        "SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'quiet'",
      ),
    );
    assert.ok(retained < written / 10, `the slot still holds ${retained} of ${written} bytes written`);
    // The operator's view of the same: connected, caught up, ready.
    assert.ok(metricsPort > 0, 'walduck said where its metrics are');
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(text, /^walduck_up 1$/m);
    assert.match(text, /^walduck_applied_lsn \d+$/m);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status, 200);
  } finally {
    run.child.kill('SIGTERM');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
});

it('refuses a DuckDB file that follows another cluster', async () => {
  psql(c.info, 'CREATE TABLE other (id int PRIMARY KEY)');
  const file = join(dir, 'other.duckdb');
  const args = [
    'replicate',
    '--source',
    conninfo(c.info),
    '--duckdb',
    file,
    '--tables',
    'other',
    '--slot',
    'other',
  ];
  const first = await runWalduck([...args, '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  // As if the file had been made from another cluster: its recorded system identifier differs.
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  await conn.run("UPDATE walduck.state SET system_id = '7000000000000000001'");
  conn.closeSync();
  db.closeSync();
  const r = await runWalduck([...args, '--until-caught-up']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /follows database walduck of the cluster with system identifier 7000000000000000001/,
  );
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

it('waits for a slot another consumer holds, and with --takeover terminates it', async () => {
  psql(c.info, 'CREATE TABLE held (id int PRIMARY KEY)');
  const file = join(dir, 'held.duckdb');
  // As the superuser: terminating another role's server process takes the right to signal it.
  const args = [
    'replicate',
    '--source',
    conninfo(c.info, 'superuser'),
    '--duckdb',
    file,
    '--tables',
    'held',
    '--slot',
    'held',
  ];
  const init = await runWalduck([...args, '--until-caught-up']);
  assert.equal(init.code, 0, init.stderr);
  psql(c.info, 'INSERT INTO held VALUES (1)');
  // Another consumer on the slot that never confirms anything (a stale one): a bare stream.
  const holder = await connect(parseConnectionString(conninfo(c.info, 'superuser'), {}));
  const stream = await holder.startReplication({ slot: 'held', startLsn: 0n });
  const holderEnded = (async () => {
    try {
      for await (const _ of stream) {
        // received, never acknowledged
      }
      return 'ended';
    } catch {
      return 'terminated';
    }
  })();
  try {
    const waited = await runWalduck([...args, '--until-caught-up', '--retry-for', '2s']);
    assert.equal(waited.code, 1, waited.stderr);
    assert.match(waited.stderr, /reconnecting, attempt 1/);
    assert.match(waited.stderr, /in use by the server process with PID \d+.*gave up after/);
    const took = await runWalduck([...args, '--until-caught-up', '--takeover']);
    assert.equal(took.code, 0, took.stderr);
    assert.match(
      took.stderr,
      /--takeover: terminating the server process \d+ that holds replication slot held/,
    );
    assert.equal(await holderEnded, 'terminated');
  } finally {
    await holder.close().catch(() => {});
  }
  const rows = await duckQuery(file, 'SELECT id FROM held');
  assert.deepEqual(rows, [[1]]);
});
