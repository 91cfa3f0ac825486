// Replication slots as the server reports them (pg_replication_slots), the rule for their names, and
// creating a wal2json slot: what replicate's start decision, `walduck stream --create-slot` and
// `walduck slot` ask the server, in one place.

import { WalduckError } from '../protocol/errors.js';
import type { Connection, CreateReplicationSlotResult } from '../protocol/index.js';
import { type Lsn, parseLsn } from '../protocol/lsn.js';
import { quoteLiteral } from './quote.js';

export class SlotError extends WalduckError {
  override readonly name = 'SlotError';
  constructor(
    readonly code: 'WALDUCK_SLOT_PLUGIN' | 'WALDUCK_SLOT_MISSING',
    message: string,
    readonly phase = 'slot',
  ) {
    super(message);
  }
}

export interface Slot {
  readonly name: string;
  readonly plugin: string | null;
  /** pg_replication_slots.slot_type: 'logical' or 'physical'. */
  readonly slotType: string;
  readonly database: string | null;
  readonly temporary: boolean;
  readonly activePid: number | null;
  readonly restartLsn: Lsn | null;
  readonly confirmedFlush: Lsn | null;
  /** WAL the server keeps for this slot: current WAL position - restart_lsn. */
  readonly retainedBytes: bigint | null;
  /** Decoded changes not yet confirmed: current WAL position - confirmed_flush_lsn. */
  readonly lagBytes: bigint | null;
  readonly walStatus: string | null;
}

/** Every slot of the server (ordered by name), or only the one named. */
export async function readSlots(c: Connection, name?: string): Promise<Slot[]> {
  // pg_current_wal_lsn() fails on a standby; there the last received position is the WAL end.
  const sql = `SELECT slot_name, plugin, slot_type, database, temporary, active_pid, restart_lsn,
      confirmed_flush_lsn,
      pg_wal_lsn_diff(w.lsn, restart_lsn)::bigint,
      pg_wal_lsn_diff(w.lsn, confirmed_flush_lsn)::bigint,
      wal_status
    FROM pg_replication_slots,
      (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS lsn) w
    ${name === undefined ? '' : `WHERE slot_name = ${quoteLiteral(name)}`}
    ORDER BY slot_name`;
  const [r] = await c.query(sql);
  const lsn = (v: string | null | undefined) => (v ? (parseLsn(v) ?? null) : null);
  const big = (v: string | null | undefined) => (v ? BigInt(v) : null);
  return (r?.rows ?? []).map((row) => ({
    name: row[0] ?? '',
    plugin: row[1] ?? null,
    slotType: row[2] ?? '',
    database: row[3] ?? null,
    temporary: row[4] === 't',
    activePid: row[5] ? Number(row[5]) : null,
    restartLsn: lsn(row[6]),
    confirmedFlush: lsn(row[7]),
    retainedBytes: big(row[8]),
    lagBytes: big(row[9]),
    walStatus: row[10] ?? null,
  }));
}

export async function readSlot(c: Connection, name: string): Promise<Slot | undefined> {
  return (await readSlots(c, name))[0];
}

/** The server's rule for slot names: lower-case letters, digits and underscores, up to 63 bytes. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

/** Why `name` cannot name a slot, or undefined when it can. */
export function slotNameProblem(name: string): string | undefined {
  if (name === '') return 'the slot name is empty';
  if (!SLOT_NAME.test(name))
    return `slot name ${JSON.stringify(name)} is not valid: use lower-case letters, digits and underscores (at most 63)`;
  return undefined;
}

/** walduck_<database>, with what a slot name cannot hold turned into underscores. */
export function defaultSlotName(database: string): string {
  return `walduck_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/**
 * Creates a wal2json slot; with `ifNotExists` an existing wal2json slot of that name is fine (undefined
 * is returned), one with another plugin is not.
 */
export async function ensureSlot(
  c: Connection,
  name: string,
  o: { ifNotExists: boolean; temporary?: boolean },
): Promise<CreateReplicationSlotResult | undefined> {
  if (o.ifNotExists) {
    const existing = await readSlot(c, name);
    if (existing) {
      if (existing.plugin !== 'wal2json') {
        throw new SlotError(
          'WALDUCK_SLOT_PLUGIN',
          `slot ${name} exists with plugin ${existing.plugin ?? `none (${existing.slotType})`}, not wal2json: choose another slot name`,
        );
      }
      return undefined;
    }
  }
  return c.createReplicationSlot(name, {
    plugin: 'wal2json',
    snapshot: 'noexport',
    ...(o.temporary ? { temporary: true } : {}),
  });
}
