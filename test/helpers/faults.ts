// Fault injection for the unattended-running tests: a TCP proxy between walduck and the throwaway
// cluster that can cut, reset, stall (a half-open link: nothing passes, nothing is closed) or delay
// the connection, and the server-side faults: restart (-m fast, -m immediate), terminate a walsender;
// and `throughProxy`, walduck started behind such a proxy with its log watched line by line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type ClusterInfo, conninfo, psql } from '../../src/cluster/throwaway.js';
import { type RunResult, startWalduck } from './walduck.js';

/** Restarts the server: fast (clean shutdown, walsenders told to stop) or immediate (a crash). */
export function restartCluster(info: ClusterInfo, mode: 'fast' | 'immediate'): void {
  const args = [
    join(info.binDir, 'pg_ctl'),
    '-D',
    info.dataDir,
    '-l',
    join(info.dir, 'server.log'),
    '-m',
    mode,
    '-w',
    '-t',
    '60',
    'restart',
  ];
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', ...args]]
    : [args[0] as string, args.slice(1)];
  const r = spawnSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`pg_ctl restart -m ${mode} failed: ${r.stderr || r.stdout}`);
}

/** Terminates the walsender holding `slot`; returns its PID (undefined when none held it). */
export function terminateWalsender(info: ClusterInfo, slot: string): number | undefined {
  const pid = psql(
    info,
    `SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}' AND active_pid IS NOT NULL`,
  );
  if (!pid) return undefined;
  psql(info, `SELECT pg_terminate_backend(${Number(pid)})`);
  return Number(pid);
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
  /** Stalled on its own (stallOpen), in one direction or both: new connections still pass. */
  stalled: Direction | 'none';
}

/** Which way a stall drops bytes: towards the server (up), towards the client (down), or both. */
export type Direction = 'up' | 'down' | 'both';

/**
 * A TCP proxy to `target`. Faults act on the connections open at that moment; stall also holds new
 * connections (accepted, never forwarded) until heal().
 */
export class FaultProxy {
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  private delayMs = 0;
  private waiting = 0;
  /** While set, chunks going this way are queued (in order) until release(). */
  private holding: 'up' | 'down' | undefined;
  private readonly releases = new Set<() => void>();
  private droppedWaiters: (() => void)[] = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    let self: FaultProxy | undefined;
    const server = createServer((client) => self?.accept(client, targetHost, targetPort));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    self = new FaultProxy(server, typeof addr === 'object' && addr ? addr.port : 0);
    return self;
  }

  private accept(client: Socket, host: string, port: number): void {
    client.on('error', () => {});
    if (this.stalled) {
      client.pause(); // a black hole: the handshake completes, nothing ever comes back
      this.pairs.add({ client, server: client, stalled: 'both' });
      return;
    }
    const server = createConnection({ host, port });
    server.on('error', () => {});
    const pair: Pair = { client, server, stalled: 'none' };
    this.pairs.add(pair);
    const blocked = (way: 'up' | 'down') => this.stalled || pair.stalled === 'both' || pair.stalled === way;
    const forward = (from: Socket, to: Socket, way: 'up' | 'down') => {
      // Delayed chunks leave in the order they came, also when the delay changes meanwhile (a
      // shorter delay must not let a later chunk overtake: TCP never reorders).
      const queue: { at: number; d: Buffer }[] = [];
      let scheduled = false;
      const flush = () => {
        scheduled = false;
        const now = performance.now();
        while (queue.length > 0 && (queue[0]?.at ?? 0) <= now) {
          to.write((queue.shift() as { d: Buffer }).d);
          this.waiting--;
        }
        if (queue.length > 0) {
          scheduled = true;
          setTimeout(flush, (queue[0]?.at ?? now) - now);
        }
      };
      from.on('data', (d: Buffer) => {
        if (blocked(way)) {
          // Dropped on the floor, as a dead route drops packets; a test may await that it happened.
          for (const w of this.droppedWaiters.splice(0)) w();
          return;
        }
        if (this.holding === way) {
          queue.push({ at: Number.POSITIVE_INFINITY, d });
          this.waiting++;
          return;
        }
        if (this.delayMs === 0 && queue.length === 0) {
          to.write(d);
          return;
        }
        queue.push({ at: performance.now() + this.delayMs, d });
        this.waiting++;
        if (!scheduled) {
          scheduled = true;
          setTimeout(flush, this.delayMs);
        }
      });
      this.releases.add(() => {
        for (const q of queue) if (q.at === Number.POSITIVE_INFINITY) q.at = 0;
        flush();
      });
    };
    forward(client, server, 'up');
    forward(server, client, 'down');
    // A stalled direction carries no FIN either: that side learns nothing until heal(). The server
    // closing reaches the client only if the way down is open, and the other way round.
    const end = (way: 'up' | 'down') => () => {
      if (blocked(way)) return;
      this.pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', end('up'));
    server.on('close', end('down'));
  }

  /** Closes every open connection cleanly (FIN both ways): a server or middlebox going away. */
  cut(): void {
    for (const p of this.pairs) {
      p.client.end();
      p.server.end();
      p.client.destroy();
      p.server.destroy();
    }
    this.pairs.clear();
  }

  /** Resets every open connection (RST to both sides). */
  reset(): void {
    for (const p of this.pairs) {
      p.client.resetAndDestroy();
      p.server.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /** From now on nothing passes and nothing is closed: a half-open link, until heal(). */
  stall(): void {
    this.stalled = true;
  }

  /**
   * Stalls the connections open now (a half-open link for them), while new connections pass: e.g.
   * the replication connection goes silent while side connections still reach the server.
   */
  stallOpen(direction: Direction = 'both'): void {
    for (const p of this.pairs) p.stalled = direction;
  }

  /**
   * Stalls one open connection: the one the server sees coming from `clientPort` (pg_stat_activity's
   * client_port), a half-open link for that session alone. False when no open connection has it.
   */
  stallSession(clientPort: number, direction: Direction = 'both'): boolean {
    for (const p of this.pairs) {
      if (p.server.localPort !== clientPort) continue;
      p.stalled = direction;
      return true;
    }
    return false;
  }

  /** Resolves when a stalled link next drops a chunk (a request sent into it, say). */
  nextDropped(): Promise<void> {
    return new Promise((r) => this.droppedWaiters.push(r));
  }

  /** Ends a stall: the stalled connections are dropped silently, new ones pass again. */
  heal(): void {
    const all = this.stalled;
    this.stalled = false;
    this.delayMs = 0;
    for (const p of this.pairs) {
      if (!all && p.stalled === 'none') continue;
      p.client.destroy();
      p.server.destroy();
      this.pairs.delete(p);
    }
  }

  /**
   * Holds every chunk going `way` on every connection from now on, none dropped, until release()
   * sends them on in the order they came (delay() must be 0 meanwhile).
   */
  hold(way: 'up' | 'down'): void {
    this.holding = way;
  }

  release(): void {
    this.holding = undefined;
    for (const r of this.releases) r();
  }

  /** Chunks held back by a delay (or a hold) right now. */
  get delayed(): number {
    return this.waiting;
  }

  /** Delays every chunk by `ms` from now on (0: no delay). */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A walduck's stderr as lines, with when each arrived, and a way to await the first that matches. */
export class Lines {
  readonly all: string[] = [];
  /** performance.now() when each line arrived. */
  readonly at: number[] = [];
  /** How walduck ended, once it did (no more lines will come). */
  ended: string | undefined;
  private partial = '';
  private waiters: (() => void)[] = [];

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    const now = performance.now();
    for (const p of parts) {
      this.all.push(p);
      this.at.push(now);
    }
    this.wake();
  }

  /** The index of the first line at or after `from` matching `re`; fails the test if walduck ends first. */
  async next(re: RegExp, from = 0): Promise<number> {
    for (;;) {
      const i = this.all.findIndex((l, j) => j >= from && re.test(l));
      if (i >= 0) return i;
      if (this.ended !== undefined) assert.fail(`walduck ended before a line matching ${re}: ${this.ended}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  count(re: RegExp): number {
    return this.all.filter((l) => re.test(l)).length;
  }

  end(why: string): void {
    this.ended = why;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface ProxiedRun {
  readonly proxy: FaultProxy;
  readonly child: ReturnType<typeof startWalduck>['child'];
  readonly done: Promise<RunResult>;
  readonly lines: Lines;
}

/**
 * Starts walduck with `args(source)`, `source` being the cluster's conninfo through a new FaultProxy,
 * with DEBUG=walduck:replicate so that tests can await its log lines. The caller ends walduck, then
 * closes the proxy (a reset during walduck's clean stop would be a correct failure exit).
 */
export async function throughProxy(
  info: ClusterInfo,
  args: (source: string) => string[],
): Promise<ProxiedRun> {
  const proxy = await FaultProxy.start(info.port);
  const run = startWalduck(args(conninfo(info, 'scram-sha-256', { port: String(proxy.port) })), {
    DEBUG: 'walduck:replicate',
  });
  const lines = new Lines();
  run.child.stderr?.setEncoding('utf8').on('data', (d: string) => lines.push(d));
  run.done.then((r) => lines.end(`exit ${r.code}: ${r.stderr}`));
  return { proxy, child: run.child, done: run.done, lines };
}
