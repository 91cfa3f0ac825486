// Streaming latency: a steady writer at a given rate while `walduck replicate` follows; the delay of
// each source transaction from its commit to the DuckDB commit that holds it (p50/p99/max, measured by
// the replicator itself: see src/replicator/latency.ts).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '../protocol/index.js';
import { parseLsn } from '../protocol/lsn.js';
import { BenchError } from './errors.js';
import { binPath } from './paths.js';
import { SCHEMA } from './workloads.js';

export interface LatencyResult {
  readonly rate: number;
  readonly seconds: number;
  readonly rowsWritten: number;
  readonly summary: string;
}

/** Writes `rate` rows/s in 100 transactions a second for `seconds`, then waits until walduck confirmed all of it. */
export async function runLatency(
  admin: Connection,
  /** Without its password: that travels in `env` (see secret.ts). */
  source: string,
  env: NodeJS.ProcessEnv,
  dir: string,
  rate: number,
  seconds: number,
  extraArgs: readonly string[],
): Promise<LatencyResult> {
  const sql = async (text: string) => (await admin.query(text))[0]?.rows ?? [];
  const slot = 'walduck_bench_latency';
  await sql(
    `CREATE TABLE ${SCHEMA}.lat (id bigserial PRIMARY KEY, v int, at timestamptz DEFAULT clock_timestamp())`,
  );
  const args = [
    binPath(),
    'replicate',
    '--source',
    source,
    '--duckdb',
    join(dir, 'latency.duckdb'),
    '--tables',
    `${SCHEMA}.lat`,
    '--slot',
    slot,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    // The slot exists once walduck is streaming: wait for that before writing.
    while (
      (await sql(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`)).length === 0
    ) {
      if (child.exitCode !== null) throw new BenchError(`walduck replicate exited: ${stderr.trim()}`);
      await sleep(20);
    }
    const perTick = Math.max(1, Math.round(rate / 100));
    const start = performance.now();
    let ticks = 0;
    while (performance.now() - start < seconds * 1000) {
      await sql(`INSERT INTO ${SCHEMA}.lat (v) SELECT g FROM generate_series(1, ${perTick}) g`);
      ticks++;
      // Hold the rate: sleep until this tick's slot in the schedule.
      const due = start + ticks * 10;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const end = parseLsn(String((await sql('SELECT pg_current_wal_lsn()'))[0]?.[0]));
    for (;;) {
      const c = (
        await sql(`SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`)
      )[0]?.[0];
      if (c && end !== undefined && (parseLsn(c) ?? 0n) >= end) break;
      if (child.exitCode !== null) throw new BenchError(`walduck replicate exited: ${stderr.trim()}`);
      await sleep(50);
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new BenchError(`walduck replicate exited ${code}: ${stderr.trim()}`);
    const summary = /latency (p50 .*)$/m.exec(stderr)?.[1] ?? 'no latency reported';
    return { rate, seconds, rowsWritten: ticks * perTick, summary };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await sql(
      `SELECT pg_drop_replication_slot('${slot}') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}')`,
    ).catch(() => {});
  }
}
