// Runs the built `bin/walduck.js` in a child process, exactly as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type ClusterInfo, psql } from '../../src/cluster/throwaway.js';
import { binPath } from './paths.js';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** stdout as the bytes written: `stream` passes the server's bytes through, valid UTF-8 or not. */
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
}

export function startWalduck(
  args: readonly string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [binPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer | string) => {
    out.push(typeof d === 'string' ? Buffer.from(d) : d);
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
    });
  });
  return { child, done };
}

/** Runs to completion; kills it (and fails loudly) after `timeoutMs` so a hang never hangs the suite. */
export async function runWalduck(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<RunResult> {
  const { child, done } = startWalduck(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const r = await done;
  clearTimeout(timer);
  if (r.signal === 'SIGKILL')
    throw new Error(`walduck ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${r.stderr}`);
  return r;
}

/**
 * A builder of `walduck replicate` arguments for files in `dir`, against `source()` (read when the
 * arguments are built: a test's cluster starts after the module loads), committing every 50 ms so that
 * tests see their rows quickly: `args('a.duckdb', '--tables', 't')`.
 */
export function replicateArgs(source: () => string, dir: string, batchMs = 50) {
  return (file: string, ...extra: string[]): string[] => [
    'replicate',
    '--source',
    source(),
    '--duckdb',
    join(dir, file),
    '--batch-ms',
    String(batchMs),
    ...extra,
  ];
}

/** `walduck status --json` of a DuckDB file: one object per table; fails the test on a non-zero exit. */
export async function statusJson(file: string): Promise<Record<string, unknown>[]> {
  const r = await runWalduck(['status', '--duckdb', file, '--json']);
  if (r.code !== 0) throw new Error(`walduck status exited ${r.code}: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface WatchedRun {
  readonly child: ChildProcess;
  readonly done: Promise<RunResult>;
  /**
   * Resolves once `re` matches the stderr written after offset `from` (or `re` returns true for it);
   * rejects, with the log's tail, if walduck ends first. Event-driven: no polling, no sleeps.
   */
  waitFor(re: RegExp | ((log: string) => boolean), from?: number): Promise<void>;
  /** Everything written to stderr so far (offsets for `waitFor`). */
  text(): string;
}

/** Starts walduck with `DEBUG` set to `debug`, so that tests can wait on its log lines. */
export function startWatched(argv: readonly string[], debug: string): WatchedRun {
  const run = startWalduck(argv, { DEBUG: debug });
  let err = '';
  const waiters: { test: () => boolean; resolve: () => void }[] = [];
  run.child.stderr?.on('data', (d: Buffer | string) => {
    err += d.toString();
    for (const w of waiters.splice(0)) {
      if (w.test()) w.resolve();
      else waiters.push(w);
    }
  });
  const waitFor = (re: RegExp | ((log: string) => boolean), from = 0) =>
    new Promise<void>((resolve, reject) => {
      const test = () => (typeof re === 'function' ? re(err.slice(from)) : re.test(err.slice(from)));
      if (test()) return resolve();
      let settled = false;
      waiters.push({
        test,
        resolve: () => {
          settled = true;
          resolve();
        },
      });
      run.done.then((r) => {
        if (!settled) reject(new Error(`walduck ended before ${re}: ${r.stderr.slice(-3000)}`));
      });
    });
  return { ...run, waitFor, text: () => err };
}

const lsnOf = (text: string): bigint => {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

/**
 * Waits until `run` (started with DEBUG walduck:sink) committed a batch up to the source's WAL position
 * now: past every change made so far. A wait for any commit line may be met by one before them.
 */
export async function caughtUp(run: WatchedRun, info: ClusterInfo, database?: string): Promise<void> {
  const now = lsnOf(psql(info, 'SELECT pg_current_wal_lsn()', database).trim());
  await run.waitFor((log) =>
    [...log.matchAll(/committed \d+ change\(s\) up to ([0-9A-F]+\/[0-9A-F]+)/g)].some(
      (m) => lsnOf(m[1] ?? '0/0') >= now,
    ),
  );
}

/** A table's state in `walduck status --json` of DuckDB file `file` (`name`: schema.table as shown). */
export async function tableState(file: string, name: string): Promise<unknown> {
  return (await statusJson(file)).find((r) => r.table === name)?.state;
}

/** The line a run (DEBUG walduck:sink) writes when the online copy of public.`table` is done. */
export function copyDone(table: string): RegExp {
  return new RegExp(
    `online copy of public\\.${table}: chunk \\d+ wrote \\d+ row\\(s\\) \\(\\d+ in all\\), done`,
  );
}
