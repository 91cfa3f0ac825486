// Runs the built `bin/walduck.js` in a child process, exactly as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
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
