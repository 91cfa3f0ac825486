// Health for operators: Prometheus text metrics on /metrics and a readiness answer on /healthz.
//
// The exposition format (text 0.0.4) is a few lines of "# HELP", "# TYPE" and "name{labels} value":
// written here in a page of code rather than adding prom-client (and its dependencies) to a tool whose
// runtime dependencies are deliberately three.

import { createServer, type Server } from 'node:http';
import type { LoopFigures } from './loop.js';

/** What happened to the connection, for health reporting. */
export type ConnectionEvent =
  | { readonly kind: 'connected' }
  | { readonly kind: 'failed'; readonly code: string; readonly transient: boolean };

/** What the slot looks like from a side connection (slot guard), when last checked. */
export interface SlotHealth {
  readonly retainedBytes: bigint | undefined;
  readonly walStatus: string | undefined;
  readonly safeWalSize: bigint | undefined;
  /** max_slot_wal_keep_size in bytes (undefined or negative: no limit). */
  readonly maxKeepBytes?: bigint | undefined;
  /** While the slot is in danger (slot-warning.ts), a few words saying how; undefined when all is well. */
  readonly danger?: string | undefined;
}

export class Health {
  figures: LoopFigures | undefined;
  slot: SlotHealth | undefined;
  connected = false;
  reconnects = 0;
  private sessions = 0;
  readonly errors = new Map<string, number>();

  constructor(
    /** /healthz is ready at or below this many bytes of lag. */
    readonly readyLagBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  connection(e: ConnectionEvent): void {
    if (e.kind === 'connected') {
      this.connected = true;
      if (this.sessions++ > 0) this.reconnects++;
      return;
    }
    this.connected = false;
    this.errors.set(e.code, (this.errors.get(e.code) ?? 0) + 1);
  }

  lagBytes(): bigint {
    const f = this.figures;
    return f && f.serverEnd > f.applied ? f.serverEnd - f.applied : 0n;
  }

  /** Seconds the replica is behind: since the source committed the oldest transaction not yet applied. */
  lagSeconds(): number {
    const f = this.figures;
    if (!f || this.lagBytes() === 0n) return 0;
    const since = f.lastSourceCommitAt ?? f.lastCommitAt;
    return since === undefined ? 0 : Math.max(0, (this.now() - since) / 1000);
  }

  ready(): boolean {
    return this.connected && this.lagBytes() <= BigInt(this.readyLagBytes);
  }

  render(): string {
    const f = this.figures;
    const out: string[] = [];
    const metric = (
      name: string,
      type: 'gauge' | 'counter',
      help: string,
      samples: [string, number | bigint][],
    ) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) out.push(`${name}${labels} ${String(v)}`);
    };
    metric(
      'walduck_up',
      'gauge',
      'Whether walduck is connected to the source and streaming (1) or not (0).',
      [['', this.connected ? 1 : 0]],
    );
    if (f) {
      metric('walduck_received_lsn', 'gauge', 'Highest WAL position received from the server.', [
        ['', f.received],
      ]);
      metric('walduck_applied_lsn', 'gauge', 'WAL position committed to DuckDB with the rows it covers.', [
        ['', f.applied],
      ]);
      metric(
        'walduck_flushed_lsn',
        'gauge',
        'WAL position reported to the server as flushed (the slot may free WAL before it).',
        [['', f.applied]],
      );
      metric('walduck_server_wal_end_lsn', 'gauge', "The server's WAL end as last reported.", [
        ['', f.serverEnd],
      ]);
      metric(
        'walduck_lag_bytes',
        'gauge',
        "Bytes of WAL between the server's end and the applied position.",
        [['', this.lagBytes()]],
      );
      metric(
        'walduck_lag_seconds',
        'gauge',
        'Seconds since the source commit of the last applied transaction, while behind (0 when caught up).',
        [['', Number(this.lagSeconds().toFixed(3))]],
      );
      metric(
        'walduck_changes_applied_total',
        'counter',
        'Row changes (insert, update, delete) applied to the tables followed.',
        [['', f.changes]],
      );
      metric('walduck_transactions_applied_total', 'counter', 'Source transactions applied.', [
        ['', f.transactions],
      ]);
      metric('walduck_received_bytes_total', 'counter', 'Output plugin bytes received.', [['', f.bytes]]);
      if (f.lastCommitAt !== undefined)
        metric(
          'walduck_last_commit_timestamp_seconds',
          'gauge',
          'Unix time of the last DuckDB commit that moved the applied position.',
          [['', f.lastCommitAt / 1000]],
        );
    }
    metric(
      'walduck_reconnects_total',
      'counter',
      'Connections made after the first one (after a transient failure).',
      [['', this.reconnects]],
    );
    metric(
      'walduck_errors_total',
      'counter',
      'Failures by code (SQLSTATE or walduck code), transient and permanent.',
      [...this.errors].map(([code, n]) => [`{code="${code.replace(/["\\\n]/g, '_')}"}`, n]),
    );
    const s = this.slot;
    if (s?.retainedBytes !== undefined)
      metric(
        'walduck_slot_retained_wal_bytes',
        'gauge',
        'WAL the server keeps for the slot (current WAL position minus restart_lsn).',
        [['', s.retainedBytes]],
      );
    if (s?.safeWalSize !== undefined)
      metric(
        'walduck_slot_safe_wal_size_bytes',
        'gauge',
        'WAL that can still be written before the slot is in danger (safe_wal_size).',
        [['', s.safeWalSize]],
      );
    if (s?.walStatus !== undefined)
      metric('walduck_slot_wal_status', 'gauge', "The slot's wal_status (1 for the current one).", [
        [`{status="${s.walStatus.replace(/["\\\n]/g, '_')}"}`, 1],
      ]);
    if (s?.maxKeepBytes !== undefined && s.maxKeepBytes >= 0n)
      metric(
        'walduck_slot_max_wal_keep_bytes',
        'gauge',
        "The server's max_slot_wal_keep_size: safe_wal_size's budget.",
        [['', s.maxKeepBytes]],
      );
    if (s)
      metric(
        'walduck_slot_in_danger',
        'gauge',
        "1 while the slot's wal_status is past 'reserved' or safe_wal_size is low (the warning walduck logs).",
        [['', s.danger === undefined ? 0 : 1]],
      );
    return `${out.join('\n')}\n`;
  }
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /metrics and /healthz on host:port (port 0: a free port the system picks). */
export async function serveMetrics(health: Health, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(health.render());
    } else if (path === '/healthz') {
      const ok = health.ready();
      const why = !health.connected
        ? 'not connected'
        : ok
          ? 'ok'
          : `lag ${health.lagBytes()} bytes above --ready-lag`;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
