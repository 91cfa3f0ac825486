// SIGTERM while walduck connects to a server that does not answer (a wedged host, a half-open link)
// is the clean stop the user asked for: exit 0 at once. Before, the stop waited for the connect
// timeout (connect_timeout, 15 s by default; here 300 s) and then exited 1 with "connect failed",
// which a service manager reads as a failure, and its stop timeout had long turned into a SIGKILL.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { FaultProxy, Lines, type ProxiedRun } from '../../helpers/faults.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-stop-connecting-');

const follow = (file: string, slot: string) => (source: string) => [
  'replicate',
  '--source',
  `${source} connect_timeout=300`,
  '--duckdb',
  join(dir, file),
  '--tables',
  't',
  '--slot',
  slot,
  '--batch-ms',
  '50',
];

/** walduck through a new proxy, its log with the protocol layer's "connecting to" lines. */
async function throughProxy(args: (source: string) => string[]): Promise<ProxiedRun> {
  const proxy = await FaultProxy.start(c.info.port);
  const run = startWalduck(args(conninfo(c.info, 'scram-sha-256', { port: String(proxy.port) })), {
    DEBUG: 'walduck:replicate,walduck:protocol',
  });
  const lines = new Lines();
  run.child.stderr?.setEncoding('utf8').on('data', (d: string) => lines.push(d));
  run.done.then((r) => lines.end(`exit ${r.code}: ${r.stderr}`));
  return { proxy, child: run.child, done: run.done, lines };
}

/** SIGTERM, then the result; a run still waiting after 60 s is killed and fails the test. */
async function stop(run: ProxiedRun) {
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const r = await run.done;
  clearTimeout(timer);
  run.proxy.heal();
  await run.proxy.close();
  assert.equal(r.signal, null, `still connecting after SIGTERM: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /^walduck: .*failed/m);
  return r;
}

it('SIGTERM during the first connection to a server that does not answer exits 0 at once', async () => {
  psql(c.info, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  const run = await throughProxy(follow('first.duckdb', 'first'));
  // Before walduck (a new Node process) can connect: its connection is held, never answered.
  run.proxy.stall();
  await run.lines.next(/connecting to /);
  await stop(run);
});

it('SIGTERM while reconnecting to a server that does not answer exits 0 at once, nothing lost', async () => {
  psql(c.info, "INSERT INTO t VALUES (1, 'a')");
  const run = await throughProxy(follow('again.duckdb', 'again'));
  await run.lines.next(/streaming from slot again/);
  psql(c.info, "INSERT INTO t VALUES (2, 'b')");
  // New connections are held from now on; the open one is reset, so walduck reconnects into the stall.
  run.proxy.stall();
  run.proxy.reset();
  const retry = await run.lines.next(/reconnecting, attempt 1/);
  await run.lines.next(/connecting to /, retry);
  await stop(run);
  psql(c.info, "INSERT INTO t VALUES (3, 'c')");
  const more = await runWalduck([
    ...follow('again.duckdb', 'again')(conninfo(c.info, 'scram-sha-256')),
    '--until-caught-up',
  ]);
  assert.equal(more.code, 0, more.stderr);
  await assertReplicaEquals(c.info, join(dir, 'again.duckdb'), [{ schema: 'public', table: 't' }]);
});
