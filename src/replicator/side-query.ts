// A side connection: an ordinary session next to the replication connection (which cannot run queries
// while it streams), for catalog lookups, the slot guard's looks and the online copy's chunks. Opened
// on first use, so a caller that never asks opens nothing.
//
// Two failures must not last longer than they do on the replication link:
//  - a half-open link (nothing arrives, nothing is closed): a query would wait for ever, and its caller
//    with it. A timer closes the connection, which fails the query; the caller retries as it does a cut.
//  - a cut, a reset, a terminated backend or a broken reply: the connection is unusable for good. It is
//    dropped, and the next query opens a new one (a dead one kept made every later query fail again,
//    for ever, after the network healed). A server error (PgServerError) leaves the session usable, and
//    WALDUCK_BUSY is a concurrent caller's query still running: both keep it.

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
  /** Bound on one query, connect excluded; undefined: none (a long copy chunk is not a stall). */
  readonly timeoutMs?: number;
  /** Bound on the connect (socket, TLS, auth); undefined: the settings' connect_timeout. */
  readonly connectTimeoutMs?: number;
  readonly log?: LogFn;
  /** Run first on every new connection (session settings), so a reopened one is the same session. */
  readonly init?: string;
}

export interface SideQuery {
  /** The rows of the first result of `sql` (a multi-statement `sql` runs them all). */
  query(sql: string): Promise<Rows>;
  /** Closes the connection now, if open; the next query opens a new one. */
  close(): Promise<void>;
}

export function sideQuery(settings: ConnectionSettings, o: SideQueryOptions = {}): SideQuery {
  let conn: Connection | undefined;
  const open = async (): Promise<Connection> => {
    const c = await connect(settings, {
      replication: false,
      ...(o.log ? { log: o.log } : {}),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    });
    if (o.init) {
      try {
        await c.query(o.init);
      } catch (err) {
        await c.close().catch(() => {});
        throw err;
      }
    }
    return c;
  };
  return {
    query: async (sql) => {
      conn ??= await open();
      const c = conn;
      const bound =
        o.timeoutMs === undefined ? undefined : setTimeout(() => void c.close().catch(() => {}), o.timeoutMs);
      try {
        return (await c.query(sql))[0]?.rows ?? [];
      } catch (err) {
        const usable =
          err instanceof PgServerError || (err instanceof ConnectionError && err.code === 'WALDUCK_BUSY');
        if (!usable && conn === c) {
          conn = undefined;
          await c.close().catch(() => {});
        }
        throw err;
      } finally {
        clearTimeout(bound);
      }
    },
    close: async () => {
      const c = conn;
      conn = undefined;
      await c?.close();
    },
  };
}
