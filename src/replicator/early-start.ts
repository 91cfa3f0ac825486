// START_REPLICATION before DuckDB is open. On a resume, the walsender reads and decodes WAL from the
// slot's restart_lsn before it sends a byte (half a second for a 40 MB transaction), and walduck needs
// about as long to load DuckDB, open the file and run its preflight. Sent first, the two overlap.
//
// The start position must then be chosen without the file: it is the slot's confirmed_flush_lsn. The
// stream is kept only when the preflight's decision is to resume at exactly that position (the file's
// stored LSN equals it: every clean stop, and every crash whose last commit was acknowledged), so the
// server sends the same bytes it would have sent to a START at the stored LSN. In every other case
// (a file ahead of the slot after a crash between DuckDB's commit and the acknowledgement, a slot to
// create or recreate, a refusal) the stream is abandoned before anything of it is read or acknowledged,
// and the preflight starts replication as it always did. Nothing is acknowledged here: the stream
// reports confirmed_flush_lsn, which the server already holds, until the loop commits.

import type { Connection, ReplicationStream } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { defaultSlotName, readSlot, type Slot, slotNameProblem } from '../source/slot.js';

/** A stream started before the preflight, and the slot as it was before the start made it active. */
export interface EarlyStart {
  readonly conn: Connection;
  readonly stream: ReplicationStream;
  /** The slot as read before START_REPLICATION (inactive then): what the start decision looks at. */
  readonly slot: Slot;
  /** Where the stream starts: the slot's confirmed_flush_lsn. */
  readonly from: Lsn;
  /** The status interval and receive timeout the stream runs with. */
  readonly live: { readonly feedbackIntervalMs: number; readonly receiveTimeoutMs: number };
}

export interface EarlyStartOptions {
  readonly slot: string | undefined;
  /** START_REPLICATION's options, as the preflight would send them with no add-tables. */
  readonly pluginOptions: Array<[string, string]>;
  readonly liveness: (conn: Connection) => Promise<{ feedbackIntervalMs: number; receiveTimeoutMs: number }>;
  readonly pieceBytes: number;
  readonly maxBufferedBytes?: number | undefined;
  readonly log: (msg: string) => void;
}

/**
 * Starts streaming on `conn` at the slot's confirmed position when the slot is there to resume (a
 * wal2json slot of this database, inactive, not lost); otherwise, or on any failure, closes `conn` and
 * returns undefined: the preflight then does everything as without an early start, and reports what
 * is wrong in its own words.
 */
export async function startEarly(conn: Connection, o: EarlyStartOptions): Promise<EarlyStart | undefined> {
  try {
    const system = await conn.identifySystem();
    const name = o.slot ?? defaultSlotName(system.dbName ?? '');
    const slot = slotNameProblem(name) === undefined ? await readSlot(conn, name) : undefined;
    const from = slot?.confirmedFlush;
    if (
      !slot ||
      from == null ||
      from === 0n ||
      slot.slotType !== 'logical' ||
      slot.plugin !== 'wal2json' ||
      slot.database !== system.dbName ||
      slot.activePid !== null ||
      slot.walStatus === 'lost'
    ) {
      await conn.close();
      return undefined;
    }
    const live = await o.liveness(conn);
    const stream = await conn.startReplication({
      slot: name,
      startLsn: from,
      options: o.pluginOptions,
      feedbackIntervalMs: live.feedbackIntervalMs,
      receiveTimeoutMs: live.receiveTimeoutMs,
      pieceBytes: o.pieceBytes,
      ...(o.maxBufferedBytes !== undefined ? { maxBufferedBytes: o.maxBufferedBytes } : {}),
    });
    o.log(`started slot ${name} at ${formatLsn(from)} while DuckDB opens`);
    return { conn, stream, slot, from, live };
  } catch (err) {
    o.log(`no early start: ${err instanceof Error ? err.message : String(err)}`);
    await conn.close().catch(() => {});
    return undefined;
  }
}
