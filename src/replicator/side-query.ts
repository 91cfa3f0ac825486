// A side connection: an ordinary session next to the replication connection (which cannot run queries
// while it streams), for catalog lookups, the slot guard's looks and the online copy's chunks. Opened
// on first use, so a caller that never asks opens nothing.
//
// Two failures must not last longer than they do on the replication link:
//  - a half-open link (nothing arrives, nothing is closed): a query would wait for ever, and its caller
//    with it. A timer closes the connection, which fails the query; the caller retries as it does a cut.
//    The timer covers the session setup (init) too, and the connect has its own bound. A caller whose
//    statements may rightly run long (the online copy's chunk SELECT, waiting for a lock) passes
//    `busy`: asked when the timer fires, it looks at the backend from elsewhere, and "still working"
//    re-arms the timer instead (a stalled link leaves the backend idle: its request never arrived, or
//    its reply went into the void).
//  - a cut, a reset, a terminated backend or a broken reply: the connection is unusable for good. It is
//    dropped, and the next query opens a new one (a dead one kept made every later query fail again,
//    for ever, after the network healed). One found dead before its next query (it failed while idle:
//    a server restart) is replaced then. A server error (PgServerError) leaves the session usable, and
//    WALDUCK_BUSY is a concurrent caller's query still running: both keep it. (A backend that ends its
//    session, pg_terminate_backend, closes the socket after its FATAL: that reaches query() as a
//    ConnectionError.)

import {
  type Connection,
  ConnectionError,
  type ConnectionSettings,
  connect,
  type LogFn,
  PgServerError,
} from '../protocol/index.js';
import type { Rows } from '../source/catalog.js';

export interface SideQueryOptions {
  /** Bound on one query (and on the init), connect excluded; undefined: none. */
  readonly timeoutMs?: number;
  /** Bound on the connect (socket, TLS, auth); undefined: the settings' connect_timeout. */
  readonly connectTimeoutMs?: number;
  readonly log?: LogFn;
  /** Run first on every new connection (session settings), so a reopened one is the same session. */
  readonly init?: string;
  /**
   * Asked when a query passed `timeoutMs`, with the backend's PID: true (the backend is still working
   * on it) waits another `timeoutMs`; false, or a failure to answer, closes the connection.
   */
  readonly busy?: (backendPid: number) => Promise<boolean>;
}

export interface SideQuery {
  /** The rows of the first result of `sql` (a multi-statement `sql` runs them all). */
  query(sql: string): Promise<Rows>;
  /** Closes the connection now, if open (a query running on it fails); the next query opens a new one. */
  close(): Promise<void>;
}

/**
 * Whether a failed query leaves its session usable: a server error, or a concurrent caller's query still
 * running (WALDUCK_BUSY). Anything else (a cut, a reset, a broken reply, a failed connect) does not.
 */
export function keepsSession(err: unknown): boolean {
  return err instanceof PgServerError || (err instanceof ConnectionError && err.code === 'WALDUCK_BUSY');
}

export function sideQuery(settings: ConnectionSettings, o: SideQueryOptions = {}): SideQuery {
  let conn: Connection | undefined;
  /** `sql` on `c`, its reply awaited at most `timeoutMs` (longer while `busy` says so). */
  const bounded = async (c: Connection, sql: string) => {
    if (o.timeoutMs === undefined) return c.query(sql);
    const ms = o.timeoutMs;
    let over = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      timer = setTimeout(async () => {
        const keep = o.busy ? await o.busy(c.backendPid).catch(() => false) : false;
        if (over) return;
        if (keep) arm();
        else void c.close().catch(() => {});
      }, ms);
    };
    arm();
    try {
      return await c.query(sql);
    } finally {
      over = true;
      clearTimeout(timer);
    }
  };
  const open = async (): Promise<Connection> => {
    const c = await connect(settings, {
      replication: false,
      ...(o.log ? { log: o.log } : {}),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    });
    if (o.init) {
      try {
        await bounded(c, o.init);
      } catch (err) {
        await c.close().catch(() => {});
        throw err;
      }
    }
    return c;
  };
  return {
    query: async (sql) => {
      // A connection that failed while idle (a server restart between two lookups) is replaced before
      // it is used: nothing was sent on it, and failing this query would cost its caller a reconnect.
      if (conn && !conn.usable) {
        const dead = conn;
        conn = undefined;
        await dead.close().catch(() => {});
      }
      conn ??= await open();
      const c = conn;
      try {
        return (await bounded(c, sql))[0]?.rows ?? [];
      } catch (err) {
        if (!keepsSession(err) && conn === c) {
          conn = undefined;
          await c.close().catch(() => {});
        }
        throw err;
      }
    },
    close: async () => {
      const c = conn;
      conn = undefined;
      await c?.close();
    },
  };
}
