// Runs unattended: a writer changes a keyed and a keyless table while the server restarts (fast and
// immediate), walsenders are terminated and the network cuts, resets, stalls and slows, at seeded random
// moments. walduck must never exit on its own, must converge once the writer stops, and DuckDB must
// then equal PostgreSQL row for row. About a minute in CI; WALDUCK_CHAOS_MINUTES=N for a long run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { conninfo, psql, psqlArgs } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { replicaDiff } from '../../helpers/compare.js';
import { FaultProxy, restartCluster, terminateWalsender } from '../../helpers/faults.js';
import { startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

// A short wal_sender_timeout: a stalled link is noticed (both ends) within seconds.
const c = useCluster({ settings: { wal_sender_timeout: "'4s'" } });
const dir = useWorkdir('walduck-chaos-');

const MINUTES = Number(process.env.WALDUCK_CHAOS_MINUTES ?? 0);
const SEED = Number(process.env.WALDUCK_CHAOS_SEED ?? 1414);
type Fault = 'restart-fast' | 'restart-immediate' | 'terminate' | 'cut' | 'reset' | 'stall' | 'delay';
const KINDS: readonly Fault[] = [
  'restart-fast',
  'cut',
  'stall',
  'terminate',
  'restart-immediate',
  'reset',
  'delay',
];

/** One psql batch of the writer; a batch cut by a fault either committed or not: PostgreSQL decides. */
function batch(rand: () => number, n: number): string {
  const lines: string[] = ['BEGIN;'];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rand() * 200);
    switch (Math.floor(rand() * 5)) {
      case 0:
        lines.push(
          `INSERT INTO keyed VALUES (${k}, ${k}, 'i') ON CONFLICT (id) DO UPDATE SET n = keyed.n + 1;`,
        );
        break;
      case 1:
        lines.push(`UPDATE keyed SET n = n * 2, t = t || 'u' WHERE id = ${k};`);
        break;
      case 2:
        lines.push(`DELETE FROM keyed WHERE id = ${k};`);
        break;
      case 3:
        lines.push(`INSERT INTO keyless VALUES (${k}, md5(random()::text));`);
        break;
      default:
        lines.push(
          `UPDATE keyless SET b = b || 'u' WHERE ctid = (SELECT ctid FROM keyless WHERE a = ${k} LIMIT 1);`,
          `DELETE FROM keyless WHERE ctid = (SELECT ctid FROM keyless WHERE a = ${k + 1} LIMIT 1);`,
        );
    }
  }
  lines.push('COMMIT;');
  return lines.join('\n');
}

function runPsql(sql: string): Promise<number | null> {
  const p = spawn('psql', [...psqlArgs(c.info), '-c', sql], { stdio: 'ignore' });
  return new Promise((resolve) => p.on('close', resolve));
}

it('converges to an equal replica through restarts, terminated walsenders, cuts, resets, stalls and delays', async () => {
  psql(
    c.info,
    'CREATE TABLE keyed (id int PRIMARY KEY, n bigint, t text); CREATE TABLE keyless (a int, b text); ALTER TABLE keyless REPLICA IDENTITY FULL',
  );
  const proxy = await FaultProxy.start(c.info.port);
  const file = join(dir, 'chaos.duckdb');
  const slot = 'chaos';
  const run = startWalduck(
    [
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256', { port: String(proxy.port), connect_timeout: '3' }),
      '--duckdb',
      file,
      '--tables',
      'keyed,keyless',
      '--slot',
      slot,
      '--batch-ms',
      '50',
      '--metrics',
      '127.0.0.1:0',
    ],
    { DEBUG: 'walduck:replicate' },
  );
  let exited = false;
  // When walduck said it lost the connection (after a stall: it noticed the silence), with why.
  const noticed: { at: number; line: string }[] = [];
  run.child.stderr?.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (line.includes('reconnecting, attempt')) noticed.push({ at: performance.now(), line });
    }
  });
  let stderrText = '';
  run.child.stderr?.on('data', (d: Buffer) => {
    stderrText += d.toString();
  });
  const stalledAt: number[] = [];
  run.done.then(() => {
    exited = true;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      run.child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('streaming from slot')) resolve();
      });
      run.done.then((r) => reject(new Error(`walduck ended before streaming: ${r.stderr}`)));
    });

    // CI: one fault of each kind. A long run keeps drawing faults until its minutes are up, so the
    // count scales with the time asked for (stalls and restarts take longer than cuts).
    const deadline = MINUTES > 0 ? performance.now() + MINUTES * 60_000 : Number.POSITIVE_INFINITY;
    const faultCount = MINUTES > 0 ? MINUTES * 60 : KINDS.length;
    // Seeded: the same kinds, order and moments on every CI run; another seed for a long run.
    const plan = fc.sample(
      fc.array(fc.record({ kind: fc.constantFrom(...KINDS), waitMs: fc.integer({ min: 300, max: 2500 }) }), {
        minLength: faultCount,
        maxLength: faultCount,
      }),
      { seed: SEED, numRuns: 1 },
    )[0] as { kind: Fault; waitMs: number }[];
    // Every kind at least once, whatever the draw.
    for (const [i, kind] of KINDS.entries())
      if (plan[i]) plan[i] = { ...(plan[i] as { waitMs: number }), kind };

    let x = SEED;
    const rand = () => {
      x = (x * 48271) % 2147483647;
      return x / 2147483647;
    };
    let writing = true;
    let batches = 0;
    const writer = (async () => {
      while (writing) {
        await runPsql(batch(rand, 1 + Math.floor(rand() * 20)));
        batches++;
      }
    })();

    const injected: Record<string, number> = {};
    let survived = 0;
    for (const f of plan) {
      if (performance.now() > deadline) break;
      await sleep(f.waitMs);
      if (process.env.WALDUCK_CHAOS_VERBOSE) process.stderr.write(`chaos: ${f.kind}\n`);
      if (exited) assert.fail(`walduck exited on its own: ${(await run.done).stderr}`);
      // The previous fault is survived once walduck is still running when the next one comes.
      if (Object.keys(injected).length > 0) survived++;
      switch (f.kind) {
        case 'restart-fast':
          restartCluster(c.info, 'fast');
          break;
        case 'restart-immediate':
          restartCluster(c.info, 'immediate');
          break;
        case 'terminate':
          terminateWalsender(c.info, slot);
          break;
        case 'cut':
          proxy.cut();
          break;
        case 'reset':
          proxy.reset();
          break;
        case 'stall':
          stalledAt.push(performance.now());
          proxy.stall();
          await sleep(6000); // past wal_sender_timeout: walduck must notice by itself
          proxy.heal();
          break;
        case 'delay':
          // A slow route for a while: every byte late, none lost or reordered; nothing to notice.
          proxy.delay(100 + Math.floor(f.waitMs / 5));
          await sleep(3000);
          proxy.delay(0);
          break;
      }
      injected[f.kind] = (injected[f.kind] ?? 0) + 1;
    }
    const faults = Object.values(injected).reduce((a, b) => a + b, 0);
    writing = false;
    await writer;
    const end = psql(c.info, 'SELECT pg_current_wal_lsn()');
    const t0 = performance.now();
    // Converged: the slot confirms everything written (walduck acks only what DuckDB committed).
    while (
      psql(
        c.info,
        `SELECT confirmed_flush_lsn >= '${end}' FROM pg_replication_slots WHERE slot_name = '${slot}'`,
      ) !== 't'
    ) {
      if (exited) assert.fail(`walduck exited on its own: ${(await run.done).stderr}`);
      await sleep(200);
    }
    const converge = (performance.now() - t0) / 1000;
    assert.ok(!exited, 'walduck exited on its own');
    survived++; // the last fault: walduck converged after it
    // The operator's view agrees with the log: every session after the first is a reconnect, every
    // retried failure is counted by its code, and a converged replica is ready.
    const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderrText)?.[1];
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const healthz = (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
    const sessions = (stderrText.match(/streaming from slot chaos/g) ?? []).length;
    const retriedSoFar = (stderrText.match(/reconnecting, attempt/g) ?? []).length;
    const errorsCounted = [...metrics.matchAll(/^walduck_errors_total\{code="[^"]*"\} (\d+)$/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    assert.match(metrics, new RegExp(`^walduck_reconnects_total ${sessions - 1}$`, 'm'));
    assert.equal(errorsCounted, retriedSoFar, metrics);
    assert.match(metrics, /^walduck_up 1$/m);
    assert.equal(healthz, 200);
    run.child.kill('SIGTERM');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const retries = (r.stderr.match(/reconnecting, attempt/g) ?? []).length;
    const detectS = stalledAt.flatMap((t) => {
      const n = noticed.find((x) => x.at > t);
      return n ? [(n.at - t) / 1000] : [];
    });
    const codes = stalledAt.map((t) => {
      const n = noticed.find((x) => x.at > t);
      return n ? (/\[(WALDUCK_[A-Z_]+|\w+)\]/.exec(n.line)?.[1] ?? '?') : 'never';
    });
    const diffs = await replicaDiff(c.info, file, [
      { schema: 'public', table: 'keyed' },
      { schema: 'public', table: 'keyless' },
    ]);
    const lost = diffs.reduce((a, d) => a + d.missing, 0);
    const doubled = diffs.reduce((a, d) => a + d.extra, 0);
    process.stderr.write(
      `chaos: seed ${SEED}, ${MINUTES > 0 ? `${MINUTES} min` : 'CI'}: ${faults} faults injected ${JSON.stringify(injected)}, ${survived} survived; ` +
        `${batches} writer batches, ${retries} reconnect attempts; silent server noticed after ${summarize(detectS)} s over ${stalledAt.length} stall(s) (wal_sender_timeout 4 s; by ${[...new Set(codes)].join(', ')}); ` +
        `converged ${converge.toFixed(1)} s after the writer stopped; rows ${diffs.map((d) => `${d.table} ${d.rows}`).join(', ')}; lost ${lost}, doubled ${doubled}\n`,
    );
    assert.deepEqual(
      diffs.map((d) => ({ table: d.table, lost: d.missing, doubled: d.extra, rows: d.rows })),
      diffs.map((d) => ({ table: d.table, lost: 0, doubled: 0, rows: d.sourceRows })),
    );
    assert.ok(Number(psql(c.info, 'SELECT count(*) FROM keyed')) > 0, 'the writer wrote rows');
  } finally {
    if (!exited) run.child.kill('SIGKILL');
    await proxy.close();
  }
});

/** "median (min–max)" of a few seconds, for the report line. */
function summarize(xs: readonly number[]): string {
  if (xs.length === 0) return 'n/a';
  const s = [...xs].sort((a, b) => a - b);
  const mid =
    s.length % 2
      ? (s[(s.length - 1) / 2] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  return `${mid.toFixed(1)} (${(s[0] as number).toFixed(1)}–${(s[s.length - 1] as number).toFixed(1)})`;
}
