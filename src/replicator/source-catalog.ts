// The source's catalog, read over a second session opened on first use: a running stream holds the
// replication connection in COPY mode, and schema changes are resolved mid-stream. It is a
// replication connection too (which takes SQL in database mode), so whatever admits walduck's stream
// (pg_hba's `replication` lines, the REPLICATION role) admits it; it costs one more walsender slot.

import { type Connection, type ConnectionSettings, connect, type LogFn } from '../protocol/index.js';
import type { Rows } from '../source/catalog.js';
import { keepsSession } from './side-query.js';

export class SourceCatalog {
  private conn: Promise<Connection> | undefined;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly log: LogFn,
  ) {}

  async query(sql: string): Promise<Rows> {
    const held = this.conn;
    if (held) {
      // Failed while idle (a server restart between two lookups): replaced before use, as side-query.ts
      // does; nothing was sent on it, and failing this query would cost its caller a reconnect.
      const c = await held.catch(() => undefined);
      if (c && !c.usable && this.conn === held) {
        this.conn = undefined;
        await c.close().catch(() => {});
      }
    }
    this.conn ??= connect(this.settings, { replication: 'database', log: this.log });
    const pending = this.conn;
    try {
      return (await (await pending).query(sql))[0]?.rows ?? [];
    } catch (err) {
      // A cut or a failed connect leaves the session unusable for good: the next query opens a new
      // one (kept, every later query failed again and a reconnect never got past it). A server error
      // or a concurrent caller's query keeps it, as side-query.ts does.
      if (!keepsSession(err) && this.conn === pending) {
        this.conn = undefined;
        await (await pending.catch(() => undefined))?.close().catch(() => {});
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) await (await c.catch(() => undefined))?.close().catch(() => {});
  }
}
