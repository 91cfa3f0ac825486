// A diagnostic, off unless asked for (issue 19: what holds replicate's peak RSS). With DEBUG including
// walduck:mem, or WALDUCK_MEM_LOG=<file>, the process samples its own memory every 50 ms and, at exit,
// reports the sample taken at its highest RSS: the kernel's split (anonymous vs file-backed pages), V8's
// heap by space (young generation vs old), Node's off-heap buffers, and DuckDB's own accounting (its
// buffer pool by tag, asked only when a new peak is reached, at most twice a second). Nothing of this
// runs by default: sampling costs a /proc read per tick, and the DuckDB query a pool scan.

import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import createDebug from 'debug';
import { type DuckMemoryProbe, watchOpens } from '../sink/duckdb-file.js';

const debug = createDebug('walduck:mem');
const TICK_MS = 50;
const DUCK_EVERY_MS = 500;
const MB = 1024 * 1024;

interface Sample {
  readonly atMs: number;
  readonly kb: Record<string, number>;
  readonly node: Record<string, number>;
  readonly v8: Record<string, number>;
  duck?: Record<string, number>;
}

function procStatus(): Record<string, number> {
  const kb: Record<string, number> = {};
  for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(Vm\w+|Rss\w+):\s+(\d+) kB/gm)) {
    kb[m[1] ?? ''] = Number(m[2]);
  }
  return kb;
}

function mb(n: number): number {
  return Math.round((n / MB) * 10) / 10;
}

/** Starts sampling when asked for by DEBUG=walduck:mem or WALDUCK_MEM_LOG; a no-op otherwise. */
export function startMemSampler(): void {
  const file = process.env.WALDUCK_MEM_LOG;
  if (!(debug.enabled || file)) return;
  const t0 = performance.now();
  let peak: Sample | undefined;
  let duck: DuckMemoryProbe | undefined;
  let lastDuckAsk = 0;
  let asking = false;
  let lastDuck: Record<string, number> | undefined;
  const maxOf: Record<string, number> = {};
  watchOpens((probe) => {
    duck ??= probe;
  });
  const askDuck = async () => {
    if (!duck || asking) return;
    asking = true;
    lastDuckAsk = performance.now();
    try {
      const d = await duck();
      lastDuck = d;
      if (peak) peak.duck = d;
    } catch {
      // The instance may be closing: the figures are diagnostic only.
    } finally {
      asking = false;
    }
  };
  const tick = () => {
    const kb = procStatus();
    const u = process.memoryUsage();
    const node = {
      heapUsed: mb(u.heapUsed),
      heapTotal: mb(u.heapTotal),
      external: mb(u.external),
      arrayBuffers: mb(u.arrayBuffers),
    };
    for (const [k, v] of Object.entries(node)) maxOf[k] = Math.max(maxOf[k] ?? 0, v);
    maxOf.RssAnonMb = Math.max(maxOf.RssAnonMb ?? 0, mb((kb.RssAnon ?? 0) * 1024));
    if (peak && (kb.VmRSS ?? 0) <= (peak.kb.VmRSS ?? 0)) return;
    const v8: Record<string, number> = {};
    for (const s of getHeapSpaceStatistics()) {
      v8[`${s.space_name}:committed`] = mb(s.space_size);
      v8[`${s.space_name}:used`] = mb(s.space_used_size);
    }
    // DuckDB's figures are the latest asked (at most DUCK_EVERY_MS old), refreshed from this peak on.
    peak = {
      atMs: Math.round(performance.now() - t0),
      kb,
      node,
      v8,
      ...(lastDuck ? { duck: lastDuck } : {}),
    };
    if (performance.now() - lastDuckAsk >= DUCK_EVERY_MS) void askDuck();
  };
  setInterval(tick, TICK_MS).unref();
  process.on('exit', () => {
    if (!peak) return;
    const { kb, ...rest } = peak;
    const line = JSON.stringify({
      peakRssMb: mb((kb.VmRSS ?? 0) * 1024),
      rssAnonMb: mb((kb.RssAnon ?? 0) * 1024),
      rssFileMb: mb((kb.RssFile ?? 0) * 1024),
      hwmMb: mb((kb.VmHWM ?? 0) * 1024),
      ...rest,
      maxOf,
    });
    debug('peak %s', line);
    if (file) appendFileSync(file, `${line}\n`);
  });
}
