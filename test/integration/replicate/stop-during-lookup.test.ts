// A SIGTERM that arrives while the sink waits for a catalog query on a side connection (the first change
// of a table dropped and created again while streaming, all tables), and that connection then fails
// (the stop tearing it down, or a cut at that moment): the stop asked for, not a failure. walduck must
// roll back the open DuckDB transaction and exit 0 with the usual summary, acknowledging nothing past
// its last commit. (It exited 1: "apply failed: cannot apply a row (table …): …connection…".)
//
// Forced without timing: every side connection is stalled through the fault proxy (the replication
// connection still flows), the test waits until a request is dropped into a stalled link (the sink's
// lookup of the new table, since nothing else asks the catalog while the stream is quiet), sends
// SIGTERM, waits for walduck to say it received it, then ends the stall, which closes those links.
// Without a stop, the same cut is a lost link like any other: walduck reconnects and goes on (it
// exited 1, the row's apply error wrapping the connection's).
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
const dir = useWorkdir('walduck-stop-lookup-');

/** Stalls every connection walduck holds through the proxy but the slot's stream (its side connections). */
function stallSideConnections(proxy: FaultProxy, slot: string): void {
  const streamPid = psql(c.info, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}'`);
  const ports = psql(
    c.info,
    `SELECT client_port FROM pg_stat_activity WHERE datname = 'walduck' AND client_port > 0 AND pid <> ${Number(streamPid)}`,
  )
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
  assert.ok(ports.length > 0, 'walduck has side connections open while streaming');
  for (const p of ports) assert.ok(proxy.stallSession(p), `side connection from port ${p}`);
}

it('a stop that fails a pending catalog lookup exits 0 and keeps the last commit', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    `CREATE SCHEMA s; CREATE TABLE s.t2 (id int PRIMARY KEY, v text); INSERT INTO s.t2 VALUES (1, 'a');`,
  );
  const proxy = await FaultProxy.start(c.info.port);
  try {
    const through = conninfo(c.info, 'scram-sha-256', { port: String(proxy.port) });
    const argv = replicateArgs(() => through, dir)('lookup.duckdb', '--slot', 'lookup_slot');
    const run = startWatched(argv, 'walduck:*');
    await run.waitFor(/streaming from slot/);
    stallSideConnections(proxy, 'lookup_slot');
    const dropped = proxy.nextDropped();
    psql(
      c.info,
      "BEGIN; DROP TABLE s.t2; CREATE TABLE s.t2 (id bigint PRIMARY KEY, w text); INSERT INTO s.t2 VALUES (2, 'b'); COMMIT;",
    );
    await dropped;
    const from = run.text().length;
    run.child.kill('SIGTERM');
    await run.waitFor(/SIGTERM received/, from);
    proxy.heal();
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /applied to .*\(signal\)/);
    assert.doesNotMatch(done.stderr, /apply failed|error/i);
    // Nothing past the last commit was acknowledged: the next run picks the change up and copies it.
    const caught = await runWalduck([
      ...replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)(
        'lookup.duckdb',
        '--slot',
        'lookup_slot',
      ),
      '--until-caught-up',
    ]);
    assert.equal(caught.code, 0, caught.stderr);
    await assertReplicaEquals(c.info, join(dir, 'lookup.duckdb'), [{ schema: 's', table: 't2' }]);
  } finally {
    await proxy.close();
  }
});

it('a cut of the side connection under a pending catalog lookup reconnects and goes on', {
  timeout: 120_000,
}, async () => {
  psql(
    c.info,
    `CREATE SCHEMA u; CREATE TABLE u.t3 (id int PRIMARY KEY, v text); INSERT INTO u.t3 VALUES (1, 'a');`,
  );
  const proxy = await FaultProxy.start(c.info.port);
  try {
    const through = conninfo(c.info, 'scram-sha-256', { port: String(proxy.port) });
    const argv = replicateArgs(() => through, dir)('cut.duckdb', '--slot', 'cut_slot', '--tables', 'u.t3');
    const run = startWatched(argv, 'walduck:*');
    await run.waitFor(/streaming from slot/);
    stallSideConnections(proxy, 'cut_slot');
    const dropped = proxy.nextDropped();
    psql(
      c.info,
      "BEGIN; DROP TABLE u.t3; CREATE TABLE u.t3 (id bigint PRIMARY KEY, w text); INSERT INTO u.t3 VALUES (2, 'b'); COMMIT;",
    );
    await dropped;
    const from = run.text().length;
    proxy.heal();
    await run.waitFor(/reconnecting, attempt 1/, from);
    await run.waitFor(/streaming from slot/, from);
    psql(c.info, "INSERT INTO u.t3 VALUES (3, 'c')");
    await run.waitFor(/committed [1-9]\d* change/, run.text().length);
    run.child.kill('SIGTERM');
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    assert.doesNotMatch(done.stderr, /apply failed/);
    const caught = await runWalduck([
      ...replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)(
        'cut.duckdb',
        '--slot',
        'cut_slot',
        '--tables',
        'u.t3',
      ),
      '--until-caught-up',
    ]);
    assert.equal(caught.code, 0, caught.stderr);
    await assertReplicaEquals(c.info, join(dir, 'cut.duckdb'), [{ schema: 'u', table: 't3' }]);
  } finally {
    await proxy.close();
  }
});
