// The consistent point: one LSN and a snapshot of the source that is exactly the database at it.
//
// A temporary logical slot created with EXPORT_SNAPSHOT on a replication connection returns both:
// the server builds the exported snapshot at the very WAL record where the slot became consistent, and
// returns that record's end as consistent_point. The snapshot sees exactly the transactions whose
// commit record lies before consistent_point; every transaction committing after it is one a logical
// slot decodes. (pg_export_snapshot() has no LSN attached: reading pg_current_wal_lsn() beside it
// races with concurrent commits, so it would only bound the point, not give it.) walduck's replica
// stores the END LSN of each applied transaction's commit record, so "applied every transaction ending
// at or before consistent_point" (replicate --endpos) is the same set of transactions as the snapshot.
//
// The slot's snapshot stays importable only while its replication connection is idle and open, and
// that connection keeps the temporary slot (WAL and catalog_xmin) alive. So a plain session, the
// anchor, imports it and exports it again (pg_export_snapshot() in a REPEATABLE READ transaction
// exports the transaction's snapshot, the imported one), and the replication connection is closed at
// once, dropping the slot. The anchor reads nothing: it holds no lock, only the snapshot's xmin, until
// release(). Each scan runs in a transaction of its own that imports the anchor's snapshot
// (snapshot-session.ts), so a table is locked only while it is read.

import { type Connection, type ConnectionSettings, connect, type Lsn } from '../protocol/index.js';
import { quoteLiteral } from '../source/quote.js';
import { VerifyError } from './errors.js';

/** Session settings that fix every text both sides print (see canonical.ts). */
export const SESSION_SETTINGS = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  'SET extra_float_digits = 3',
  "SET bytea_output = 'hex'",
  "SET IntervalStyle = 'postgres'",
  "SET client_encoding = 'UTF8'",
  // A scan that waits for a lock is not stuck for ever; a long scan is legitimate.
  "SET lock_timeout = '60s'",
  'SET statement_timeout = 0',
];

export interface ConsistentPoint {
  readonly lsn: Lsn;
  /** The anchor's exported snapshot: importable until release(). */
  readonly snapshot: string;
  /** The anchor's server process (tests look for its xmin). */
  readonly anchorPid: number;
  /** Ends the anchor's transaction and session: the source's xmin is no longer held. Idempotent. */
  release(): Promise<void>;
}

export async function takeConsistentPoint(
  settings: ConnectionSettings,
  o: { readonly log: (msg: string) => void },
): Promise<ConsistentPoint> {
  const anchor = await connect(settings, { replication: false, log: o.log });
  let repl: Connection | undefined;
  try {
    await anchor.query(SESSION_SETTINGS.join('; '));
    const enc = (await anchor.query('SHOW server_encoding'))[0]?.rows[0]?.[0];
    if (enc !== 'UTF8') {
      throw new VerifyError(
        'preflight',
        'WALDUCK_VERIFY_ENCODING',
        `the source database's encoding is ${enc}, and verify hashes UTF-8 text on both sides: it needs a UTF8 database`,
      );
    }
    repl = await connect(settings, { replication: 'database', log: o.log });
    const name = `walduck_verify_${process.pid}_${Date.now() % 1_000_000}`;
    const created = await repl.createReplicationSlot(name, {
      plugin: 'wal2json',
      temporary: true,
      snapshot: 'export',
    });
    if (!created.snapshotName)
      throw new VerifyError('point', 'WALDUCK_VERIFY_SNAPSHOT', 'the server exported no snapshot');
    const results = await anchor.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT ${quoteLiteral(created.snapshotName)}; SELECT pg_export_snapshot()`,
    );
    const snapshot = results.at(-1)?.rows[0]?.[0];
    if (!snapshot)
      throw new VerifyError('point', 'WALDUCK_VERIFY_SNAPSHOT', 'pg_export_snapshot() returned nothing');
    o.log(`consistent point ${created.consistentPoint.toString(16)} (snapshot ${snapshot})`);
    let released: Promise<void> | undefined;
    return {
      lsn: created.consistentPoint,
      snapshot,
      anchorPid: anchor.backendPid,
      release: () => {
        released ??= anchor.close().catch(() => {});
        return released;
      },
    };
  } catch (err) {
    await anchor.close().catch(() => {});
    throw err;
  } finally {
    // Ends the exporting transaction and drops the temporary slot (the anchor's copy stays valid).
    await repl?.close().catch(() => {});
  }
}
