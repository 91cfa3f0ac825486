// Exactly once under kill -9: a mixed workload runs while the replicator is killed with SIGKILL at
// random moments and restarted; at the end DuckDB equals PostgreSQL exactly. 3 kills by default,
// WALDUCK_CRASH_KILLS=20 (or more) for the long run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { conninfo, psql, psqlArgs } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-crash-');

/** A deterministic pseudo-random workload: many small transactions and a few large ones. */
function workloadScript(seed: number, statements: number): string {
  let x = seed;
  const rand = (n: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  const lines: string[] = [];
  for (let i = 0; i < statements; i++) {
    const k = rand(300);
    switch (rand(6)) {
      case 0:
      case 1:
        lines.push(
          `INSERT INTO crash VALUES (${k}, ${rand(1000)}, repeat('p', ${rand(50)})) ON CONFLICT (id) DO UPDATE SET n = crash.n + 1;`,
        );
        break;
      case 2:
        lines.push(`UPDATE crash SET n = n * 2, pad = pad || 'u' WHERE id = ${k};`);
        break;
      case 3:
        lines.push(`DELETE FROM crash WHERE id = ${k};`);
        break;
      case 4:
        lines.push(
          `BEGIN; DELETE FROM crash WHERE id = ${k}; INSERT INTO crash VALUES (${k}, -1, 'again'); UPDATE crash SET id = ${k + 1000} WHERE id = ${k} AND NOT EXISTS (SELECT 1 FROM crash WHERE id = ${k + 1000}); COMMIT;`,
        );
        break;
      default:
        lines.push(
          `INSERT INTO crash SELECT g, g, 'bulk' FROM generate_series(${2000 + i * 50}, ${2000 + i * 50 + 49}) g ON CONFLICT DO NOTHING;`,
        );
    }
  }
  return lines.join('\n');
}

it('survives SIGKILL at random moments with nothing lost and nothing applied twice', async () => {
  const kills = Number(process.env.WALDUCK_CRASH_KILLS ?? 3);
  psql(c.info, 'CREATE TABLE crash (id int PRIMARY KEY, n bigint, pad text)');
  const file = join(dir, 'crash.duckdb');
  const args = [
    'replicate',
    '--source',
    conninfo(c.info, 'scram-sha-256'),
    '--duckdb',
    file,
    '--tables',
    'crash',
    '--batch-rows',
    '50',
    '--batch-ms',
    '20',
  ];
  const init = await runWalduck([...args, '--until-caught-up']);
  assert.equal(init.code, 0, init.stderr);
  const initialLsn = (await duckQuery(file, 'SELECT lsn_bytes FROM walduck.state'))[0]?.[0] as bigint;

  const script = join(dir, 'workload.sql');
  writeFileSync(script, workloadScript(42, 400 + kills * 150));
  const writer = spawn('psql', [...psqlArgs(c.info), '-f', script], {
    stdio: 'ignore',
  });
  const writerDone = new Promise<number | null>((resolve) => writer.on('close', resolve));

  let seed = 7;
  for (let i = 0; i < kills; i++) {
    const run = startWalduck(args, { DEBUG: 'walduck:replicate' });
    // Kill while it streams: wait for the event that streaming began (a loaded machine can take a
    // second just to start), then a random moment, which is the point of this test.
    await new Promise<void>((resolve, reject) => {
      run.child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('streaming from slot')) resolve();
      });
      run.done.then((r) => reject(new Error(`replicator ended before streaming: ${r.stderr}`)));
    });
    seed = (seed * 48271) % 2147483647;
    await sleep(20 + (seed % 600));
    run.child.kill('SIGKILL');
    const r = await run.done;
    assert.equal(r.signal, 'SIGKILL', `replicator exited on its own before the kill: ${r.stderr}`);
  }
  assert.equal(await writerDone, 0, 'the workload failed');
  // The killed runs must have applied something, or this test would prove nothing about crashes.
  const applied = await duckQuery(file, 'SELECT lsn_bytes FROM walduck.state');
  assert.ok((applied[0]?.[0] as bigint) > initialLsn, 'no progress between kills');
  const final = await runWalduck([...args, '--until-caught-up'], {}, 120_000);
  assert.equal(final.code, 0, final.stderr);
  await assertReplicaEquals(c.info, file, [{ schema: 'public', table: 'crash' }]);
  assert.ok(Number(psql(c.info, 'SELECT count(*) FROM crash')) > 0, 'the workload wrote rows');
});
