// A session that runs work under the consistent point's snapshot, one transaction per piece of work:
// BEGIN REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT; the queries; COMMIT. Every table lock a
// query takes (AccessShareLock as it reads) ends with that COMMIT, so a table verify has finished with
// is free for ALTER TABLE, TRUNCATE, VACUUM FULL while the next one is read.

import { type Connection, type ConnectionSettings, connect } from '../protocol/index.js';
import type { QueryFn } from '../source/catalog.js';
import { quoteLiteral } from '../source/quote.js';
import { SESSION_SETTINGS } from './point.js';

export interface SnapshotSession {
  readonly pid: number;
  /** Runs `work` in one transaction on the snapshot; commits when it returns, rolls back when it throws. */
  run<T>(work: (query: QueryFn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openSnapshotSession(
  settings: ConnectionSettings,
  snapshot: string,
  log: (msg: string) => void,
): Promise<SnapshotSession> {
  const conn: Connection = await connect(settings, { replication: false, log });
  try {
    await conn.query(SESSION_SETTINGS.join('; '));
  } catch (err) {
    await conn.close().catch(() => {});
    throw err;
  }
  const begin = `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshot)}`;
  const query: QueryFn = async (sql) => (await conn.query(sql)).at(-1)?.rows ?? [];
  let closed: Promise<void> | undefined;
  return {
    pid: conn.backendPid,
    async run<T>(work: (q: QueryFn) => Promise<T>): Promise<T> {
      await conn.query(begin);
      let result: T;
      try {
        result = await work(query);
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw err;
      }
      await conn.query('COMMIT');
      return result;
    },
    close() {
      closed ??= conn.close().catch(() => {});
      return closed;
    },
  };
}
