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

import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { Slot } from '../source/slot.js';
import { ReplicateError } from './errors.js';

/** What the start decision needs to know of the slot. */
export type SlotFacts = Pick<Slot, 'plugin' | 'slotType' | 'database' | 'activePid' | 'confirmedFlush'>;

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
  slot: SlotFacts | undefined,
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
