// The run's start, before its first session: DuckDB opens while the first connection is made and,
// resuming an existing file, while START_REPLICATION goes out on it (early-start.ts). Each waits on
// something else (the server forks a backend and decodes from the slot's restart_lsn, DuckDB loads
// its library and reads the file), so they overlap instead of adding up. What is opened here is
// handed to the first session (session-start.ts), which keeps the early stream or releases it. Here
// too: the stream's timers from wal_sender_timeout, which the early stream and every session use.
// Apart from replicate.ts so that the run's loop reads as the loop.

import { existsSync } from 'node:fs';
import { type Connection, DEFAULT_PIECE_BYTES } from '../protocol/index.js';
import { firstLine } from '../sink/apply-error.js';
import { DEFAULT_THREADS, openDuckDb } from '../sink/duckdb-file.js';
import { wal2jsonOptions } from '../wal2json/index.js';
import { type EarlyStart, startEarly } from './early-start.js';
import { ReplicateError } from './errors.js';
import type { ReplicateOptions } from './replicate-options.js';

/** pg_recvlogical's default --status-interval. */
export const DEFAULT_STATUS_INTERVAL_MS = 10_000;
/** How long DuckDB's loading waits for an early start's round trips (a near server needs ~10 ms). */
const EARLY_START_WAIT_MS = 250;
/** The receive timeout when the server's wal_sender_timeout is off (0). */
const FALLBACK_RECEIVE_TIMEOUT_MS = 60_000;

type Instance = Awaited<ReturnType<typeof openDuckDb>>;

/** What the start opened. The first session takes the connection and the early stream (once). */
export interface Opened {
  /** DuckDB's instance and connection; none for a caller's own sink. */
  readonly instance: Instance | undefined;
  readonly duck: Awaited<ReturnType<Instance['connect']>> | undefined;
  /** The first session's connection, made while DuckDB opened; undefined once taken. */
  firstConnection: Promise<Connection> | undefined;
  /** The early stream (none: not resuming a file, or it could not start); undefined once taken. */
  early: Promise<EarlyStart | undefined> | undefined;
}

/**
 * Checks that there is something to replicate into, then opens DuckDB while connecting to the source
 * and, resuming an existing file, starting the stream early.
 */
export async function openRun(
  o: ReplicateOptions,
  connectSource: (signal?: AbortSignal) => Promise<Connection>,
): Promise<Opened> {
  if (o.sink && o.snapshot === 'force') {
    throw new ReplicateError(
      'config',
      'WALDUCK_SNAPSHOT_CUSTOM_SINK',
      'an initial snapshot copies into DuckDB only: a custom sink starts at the slot (use snapshot auto or off)',
    );
  }
  if (!o.sink && !o.duckdb) {
    throw new ReplicateError(
      'config',
      'WALDUCK_NO_TARGET',
      'nothing to replicate into: give a DuckDB file or a sink',
    );
  }
  // The first connection is made while DuckDB opens its file: each waits on something else (the server
  // forks a backend, DuckDB reads the file on its own thread), ~20 ms of every start. Its failure is
  // handled where the loop awaits it, like every other connection's; a DuckDB file that cannot open is reported
  // first, as before, and the connection made meanwhile is closed.
  const abandon = new AbortController();
  // A stop asked for abandons a connection attempt too: a server that does not answer would hold the
  // stop until the connect timeout, and then it read as a failure (exit 1).
  const attempt = o.signal ? AbortSignal.any([abandon.signal, o.signal]) : abandon.signal;
  let firstConnection: Promise<Connection> = connectSource(attempt);
  firstConnection.catch(() => {});
  // Resuming an existing file: START_REPLICATION goes out before DuckDB loads (early-start.ts), on
  // the first connection; the preflight gets one of its own.
  let early: Promise<EarlyStart | undefined> | undefined;
  if (!o.sink && o.duckdb && o.snapshot !== 'force' && !o.takeover && existsSync(o.duckdb)) {
    early = firstConnection.then(
      (c) =>
        startEarly(c, {
          slot: o.slot,
          pluginOptions: wal2jsonOptions({
            formatVersion: o.formatVersion,
            ...(o.formatVersion === 1 ? { writeInChunks: o.writeInChunks } : {}),
          }),
          liveness: async (c) => liveness(await walSenderTimeoutMs(c), o.statusIntervalMs),
          pieceBytes: DEFAULT_PIECE_BYTES,
          maxBufferedBytes: o.socketBufferBytes,
          log: o.log,
        }),
      (err: unknown) => void o.log(`no early start: ${firstLine(err)}`),
    );
    firstConnection = connectSource(attempt);
    firstConnection.catch(() => {});
    // DuckDB's native library loads synchronously (~0.1 s in which no socket is read): the early
    // start's round trips go first, for a while.
    await settledWithin(early, EARLY_START_WAIT_MS);
  }
  let instance: Instance | undefined;
  let duck: Opened['duck'];
  try {
    instance = o.sink
      ? undefined
      : await openDuckDb(o.duckdb ?? '', {
          memoryLimit: o.duckdbMemoryLimit,
          threads: o.duckdbThreads ?? DEFAULT_THREADS,
        });
    duck = await instance?.connect();
  } catch (err) {
    instance?.closeSync();
    abandon.abort();
    void firstConnection.then((c) => c.close()).catch(() => {});
    void early?.then((e) => e?.conn.close()).catch(() => {});
    throw err;
  }
  return { instance, duck, firstConnection, early };
}

/**
 * The stream's timers from the server's wal_sender_timeout: status updates often enough that the
 * server never times us out (also while the socket is paused for a slow sink: the timer sends them
 * regardless), and a receive timeout of about that long, asking for a keepalive half way, so a silent
 * server (half-open connection, wedged host) is noticed within about wal_sender_timeout.
 */
export function liveness(
  walSenderTimeoutMs: number,
  statusIntervalMs: number | undefined,
): { feedbackIntervalMs: number; receiveTimeoutMs: number } {
  const wanted = statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS;
  if (walSenderTimeoutMs <= 0)
    return { feedbackIntervalMs: wanted, receiveTimeoutMs: FALLBACK_RECEIVE_TIMEOUT_MS };
  return {
    feedbackIntervalMs: Math.max(100, Math.min(wanted, Math.floor(walSenderTimeoutMs / 3))),
    receiveTimeoutMs: Math.max(1000, walSenderTimeoutMs),
  };
}

/** The server's wal_sender_timeout in ms (0: off). */
export async function walSenderTimeoutMs(conn: Connection): Promise<number> {
  const [r] = await conn.query('SHOW wal_sender_timeout');
  return parsePgDuration(r?.rows[0]?.[0] ?? '0');
}

/** "60s", "1min", "500ms", "0", "2h" as SHOW prints a time setting, in ms. */
export function parsePgDuration(text: string): number {
  const m = /^\s*(\d+)\s*(us|ms|s|min|h|d)?\s*$/.exec(text);
  if (!m) return 0;
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const ms: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
  return n * (ms[unit] ?? 1);
}

/** Waits until `p` settles or `ms` pass, whichever is first. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
