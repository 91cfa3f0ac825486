// Deciding where the stream starts: the slot's state on the server against the LSN stored in DuckDB.
//
//   slot missing, no state      -> create the slot (exporting a snapshot to copy, unless
//                                  --no-snapshot); start at its consistent point
//   slot missing, state stored  -> refuse: changes after the stored LSN may be gone with the slot
//   slot present, no state      -> with --snapshot, or when this DuckDB file marked the slot as its
//                                  own unfinished snapshot (walduck.snapshot_pending): drop it if
//                                  inactive and create it again with a new snapshot. Otherwise start
//                                  at its confirmed_flush_lsn (older changes are not replicated)
//   slot present, state stored  -> start at the stored LSN, unless the slot already confirmed more
//                                  (the server would skip what DuckDB lacks): refuse. --snapshot here
//                                  is refused: the file already holds a replica

import type { Connection } from '../protocol/index.js';
import { formatLsn, type Lsn, parseLsn } from '../protocol/lsn.js';
import { quoteLiteral } from '../sink/sql.js';
import { ReplicateError } from './errors.js';

export interface SlotInfo {
  readonly plugin: string | null;
  readonly slotType: string;
  readonly database: string | null;
  readonly activePid: number | null;
  readonly confirmedFlush: Lsn | null;
  /** reserved, extended, unreserved or lost (PostgreSQL 13 and later; null before). */
  readonly walStatus?: string | null;
  /** Bytes of WAL that can still be written before the slot is in danger of invalidation. */
  readonly safeWalSize?: string | null;
}

export async function readSlot(conn: Connection, name: string): Promise<SlotInfo | undefined> {
  const major = Number.parseInt(conn.serverParameters.get('server_version') ?? '0', 10);
  const health = major >= 13 ? 'wal_status, safe_wal_size' : 'NULL, NULL';
  const [result] = await conn.query(
    `SELECT plugin, slot_type, database, active_pid, confirmed_flush_lsn, ${health} FROM pg_replication_slots WHERE slot_name = ${quoteLiteral(name)}`,
  );
  const row = result?.rows[0];
  if (!row) return undefined;
  return {
    plugin: row[0] ?? null,
    slotType: row[1] ?? '',
    database: row[2] ?? null,
    activePid: row[3] ? Number(row[3]) : null,
    confirmedFlush: row[4] ? (parseLsn(row[4]) ?? null) : null,
    walStatus: row[5] ?? null,
    safeWalSize: row[6] ?? null,
  };
}

/** Slot names allow lower-case letters, digits and underscores, up to 63 bytes. */
export function defaultSlotName(database: string): string {
  return `walduck_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export function validateSlotName(name: string): void {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    throw new ReplicateError(
      'config',
      'WALDUCK_SLOT_NAME',
      `invalid slot name ${JSON.stringify(name)}: use lower-case letters, digits and underscores (at most 63)`,
    );
  }
}

/** auto: snapshot when walduck creates the slot; force: --snapshot; off: --no-snapshot. */
export type SnapshotMode = 'auto' | 'force' | 'off';

export interface SnapshotChoice {
  readonly mode: SnapshotMode;
  /** This DuckDB file began a snapshot into this slot and never committed it. */
  readonly pending: boolean;
}

export type StartDecision =
  | { readonly action: 'create'; readonly snapshot: boolean; readonly dropFirst: boolean }
  | { readonly action: 'resume'; readonly from: Lsn; readonly warning?: string };

export function decideStart(
  slotName: string,
  database: string,
  slot: SlotInfo | undefined,
  stored: Lsn | undefined,
  snapshot: SnapshotChoice = { mode: 'auto', pending: false },
): StartDecision {
  if (stored !== undefined && snapshot.mode === 'force') {
    throw new ReplicateError(
      'config',
      'WALDUCK_SNAPSHOT_HAS_STATE',
      `--snapshot: this DuckDB file already holds a replica (slot ${slotName}, up to ${formatLsn(stored)}); an initial snapshot needs a new DuckDB file`,
    );
  }
  if (!slot) {
    if (stored === undefined)
      return { action: 'create', snapshot: snapshot.mode !== 'off', dropFirst: false };
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_GONE',
      `replication slot ${slotName} no longer exists but DuckDB holds changes up to ${formatLsn(stored)}: changes since then may be lost; start over with a new DuckDB file (or drop its walduck.state row)`,
    );
  }
  if (slot.slotType !== 'logical' || slot.plugin !== 'wal2json') {
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_PLUGIN',
      `replication slot ${slotName} exists but is ${slot.slotType} with plugin ${slot.plugin ?? 'none'}, not a wal2json logical slot: choose another --slot`,
    );
  }
  if (slot.database !== database) {
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_DATABASE',
      `replication slot ${slotName} belongs to database ${slot.database}, not ${database}: choose another --slot`,
    );
  }
  if (slot.activePid !== null) {
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_ACTIVE',
      `replication slot ${slotName} is in use by the server process with PID ${slot.activePid}: stop the other consumer (SELECT pg_terminate_backend(${slot.activePid})) or choose another --slot`,
    );
  }
  const confirmed = slot.confirmedFlush ?? 0n;
  if (stored === undefined && (snapshot.mode === 'force' || (snapshot.mode === 'auto' && snapshot.pending))) {
    // No replica depends on this slot's position: a slot can export a snapshot only when created.
    return { action: 'create', snapshot: true, dropFirst: true };
  }
  if (stored === undefined) {
    return {
      action: 'resume',
      from: confirmed,
      warning: `replication slot ${slotName} already existed: changes before ${formatLsn(confirmed)} are not in the replica`,
    };
  }
  if (confirmed > stored) {
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_AHEAD',
      `replication slot ${slotName} has confirmed ${formatLsn(confirmed)}, past the ${formatLsn(stored)} stored in DuckDB: the server would skip changes the replica lacks (another consumer used the slot?); start over with a new DuckDB file and slot`,
    );
  }
  return { action: 'resume', from: stored };
}
