// Which failures heal by themselves, and how long to wait before trying again.
//
// Transient: the connection went away or never came (reset, refused, timed out, cut mid-frame, TLS or
// DNS trouble while a server restarts), the server is shutting down or starting up (57P01, 57P02,
// 57P03, 08xxx), the walsender was terminated, the slot is still held by a walsender that has not yet
// noticed its client is gone (55006). Everything else is permanent and stops walduck with its line:
// a bad password, a missing table or plugin, a dropped or invalidated slot, a slot past the replica.

import { WalduckError } from '../protocol/errors.js';
import { ConnectionError, PgServerError, ProtocolError } from '../protocol/index.js';
import { ReplicateError } from './errors.js';

const TRANSIENT_CONNECTION = new Set([
  'WALDUCK_CONNECT_FAILED',
  'WALDUCK_CONNECT_TIMEOUT',
  'WALDUCK_CONNECTION_LOST',
  'WALDUCK_CONNECTION_CLOSED',
  'WALDUCK_RECEIVE_TIMEOUT',
  'WALDUCK_TLS_FAILED',
  'WALDUCK_STREAM_ENDED',
]);
/** admin_shutdown (also pg_terminate_backend), crash_shutdown, cannot_connect_now, object_in_use. */
const TRANSIENT_SQLSTATE = new Set(['57P01', '57P02', '57P03', '55006', '53300']);
const TRANSIENT_REPLICATE = new Set(['WALDUCK_STREAM_ENDED', 'WALDUCK_SLOT_ACTIVE']);
const TRANSIENT_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The stable code of a failure, for logs and metrics ("CONNECTION_LOST", "57P01", …). */
export function failureCode(err: unknown): string {
  if (err instanceof PgServerError) return err.sqlstate;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** True when trying again may succeed without anyone changing anything. */
export function isTransient(err: unknown): boolean {
  if (err instanceof PgServerError)
    return TRANSIENT_SQLSTATE.has(err.sqlstate) || err.sqlstate.startsWith('08');
  if (err instanceof ConnectionError) return TRANSIENT_CONNECTION.has(err.code);
  if (err instanceof ProtocolError) return err.code === 'WALDUCK_TRUNCATED_FRAME';
  if (err instanceof ReplicateError) return TRANSIENT_REPLICATE.has(err.code);
  // The sink asks to read the open batch again (sink/table-rename.ts): a reconnect does that.
  if (err instanceof WalduckError && err.code === 'WALDUCK_RENAME_REPLAY') return true;
  // A table created while the slot was made (snapshot/copy.ts): the next session lists it too.
  if (err instanceof WalduckError && err.code === 'WALDUCK_SNAPSHOT_TABLES_JOINED') return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_ERRNO.has(code);
}

export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  /** A number in [0, 1): the jitter's source (tests pass a seeded one). */
  readonly random?: () => number;
}

/**
 * Exponential backoff with jitter: the n-th wait is drawn from [d/2, d] with d = initial·2^(n-1),
 * capped. Half the range keeps a floor (a restarting server needs a moment); the other half spreads
 * many replicators that lost the same server, so they do not all come back in the same instant.
 */
export class Backoff {
  private n = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 250;
    this.maxMs = o.maxMs ?? 30_000;
    this.random = o.random ?? Math.random;
  }

  get attempt(): number {
    return this.n;
  }

  next(): number {
    this.n++;
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.n - 1, 30));
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.n = 0;
  }
}

/** Waits `ms`, or less when the signal fires; true when it fired. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve(signal?.aborted ?? false);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
