// The source's catalog, read over a second session opened on first use: a running stream holds the
// replication connection in COPY mode, and schema changes are resolved mid-stream. It is a
// replication connection too (which takes SQL in database mode), so whatever admits walduck's stream
// (pg_hba's `replication` lines, the REPLICATION role) admits it; it costs one more walsender slot.

import { type Connection, type ConnectionSettings, connect, type LogFn } from '../protocol/index.js';
import type { Rows } from '../source/catalog.js';

export class SourceCatalog {
  private conn: Promise<Connection> | undefined;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly log: LogFn,
  ) {}

  async query(sql: string): Promise<Rows> {
    this.conn ??= connect(this.settings, { replication: 'database', log: this.log });
    const conn = await this.conn;
    return (await conn.query(sql))[0]?.rows ?? [];
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) await (await c.catch(() => undefined))?.close().catch(() => {});
  }
}
