// Measuring a contender from outside: wall time, CPU seconds and peak RSS of its process, and the CPU
// seconds of the walsender that serves it, all read from /proc while they run (no GNU time needed).
// CPU and VmHWM only grow, so the last reading before a process ends is its total (within one poll).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BenchError } from './errors.js';

const POLL_MS = 25;
const TICKS = 100; // USER_HZ on Linux

export interface Measured {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly peakRssMb: number;
  readonly walsenderCpuSeconds: number;
  /** What the contender printed (the decode-only contender reports its byte count there). */
  readonly stdout: string;
}

function cpuOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

function peakRssOf(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `cmd args` to completion. `findWalsender` is asked (one question at a time) until it names
 * the walsender, which exists only once the contender connected; its CPU is followed from then on.
 */
export async function measure(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  findWalsender: () => Promise<number | undefined>,
): Promise<Measured> {
  const start = performance.now();
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (stdout.length < 65536) stdout += d;
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let cpu = 0;
  let rss = 0;
  let ws: number | undefined;
  let wsCpu = 0;
  let asking = false;
  const poll = () => {
    const pid = child.pid;
    if (pid !== undefined) {
      cpu = cpuOf(pid) ?? cpu;
      rss = peakRssOf(pid) ?? rss;
    }
    if (ws === undefined && !asking) {
      asking = true;
      findWalsender().then(
        (pid) => {
          ws = pid;
          asking = false;
        },
        () => {
          asking = false;
        },
      );
    }
    if (ws !== undefined) wsCpu = cpuOf(ws) ?? wsCpu;
  };
  const timer = setInterval(poll, POLL_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(timer);
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new BenchError(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  return { seconds, cpuSeconds: cpu, peakRssMb: rss, walsenderCpuSeconds: wsCpu, stdout };
}
