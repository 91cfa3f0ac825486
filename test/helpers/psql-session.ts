// A psql session kept open on stdin while a test runs: a transaction holding a lock, a watcher loop in
// the server. `ready` once it printed `mark` (the statement before it ran), rejected if psql exited
// first; `end(sql)` writes its last statements, closes stdin and waits for psql to exit.
import { spawn } from 'node:child_process';
import { type ClusterInfo, psqlArgs } from '../../src/cluster/throwaway.js';

export interface PsqlSession {
  readonly ready: Promise<void>;
  /** psql's exit code. */
  readonly closed: Promise<number | null>;
  end(sql?: string): Promise<number | null>;
}

/** `app` names the session in pg_stat_activity (application_name), so a test can find or end it. */
export function psqlSession(info: ClusterInfo, sql: string, mark: string, app = 'walduck-test'): PsqlSession {
  const p = spawn('psql', [...psqlArgs(info), '-q', '-A', '-t'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, PGAPPNAME: app },
  });
  const closed = new Promise<number | null>((resolve) => p.on('close', resolve));
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes(mark)) resolve();
    });
    closed.then((code) => reject(new Error(`psql session ${app} exited ${code} before printing ${mark}`)));
  });
  ready.catch(() => {}); // rejected only when nobody waits for it any more (the session ended)
  p.stdin.write(sql);
  let ended = false;
  return {
    ready,
    closed,
    end: (last = '') => {
      if (!ended) p.stdin.end(last);
      ended = true;
      return closed;
    },
  };
}
