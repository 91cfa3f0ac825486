// Runs a Node script (an example, a vendored build, an installed package) in a child process, with
// output collected and a kill after a timeout, so a hang fails the test instead of hanging the suite.
import { type ChildProcess, spawn } from 'node:child_process';

export interface ScriptRun {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  readonly stdout: () => string;
  readonly done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
  /** Resolves once stdout contains `text`, or `until(stdout)` holds (rejects if the process ends first). */
  readonly waitFor: (until: string | ((stdout: string) => boolean)) => Promise<void>;
}

export function startScript(
  args: readonly string[],
  o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; command?: string } = {},
): ScriptRun {
  const child = spawn(o.command ?? process.execPath, args, {
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{
    text: string | ((s: string) => boolean);
    resolve: () => void;
    reject: (e: Error) => void;
  }> = [];
  const check = () => {
    for (const w of waiters.splice(0)) {
      if (typeof w.text === 'string' ? stdout.includes(w.text) : w.text(stdout)) w.resolve();
      else waiters.push(w);
    }
  };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0))
        w.reject(new Error(`exited (${code ?? signal}) before the output awaited: ${stderr}${stdout}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    done,
    waitFor: (until) =>
      new Promise((resolve, reject) => {
        waiters.push({ text: until, resolve, reject });
        check();
      }),
  };
}

/** Runs to the end; fails with the output when it was killed for taking too long. */
export async function runScript(
  args: readonly string[],
  o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; command?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await startScript(args, o).done;
  if (r.signal === 'SIGKILL') throw new Error(`${args.join(' ')} was killed after its timeout: ${r.stderr}`);
  return r;
}
