// Everything before streaming: open DuckDB, check the source (wal_level, identity, tables), open the
// sink, decide the slot and the start LSN (creating the slot, with the initial snapshot, when it is
// new). What it returns is all the loop needs to start.

import type { Connection, ConnectionSettings, IdentifySystemResult } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { readState } from '../sink/checkpoint.js';
import { DuckDbSink } from '../sink/duckdb-sink.js';
import type { ProgressSink } from '../snapshot/progress.js';
import { CsvSpool } from '../snapshot/spool.js';
import { readSourceTables, type SourceTable } from '../source/catalog.js';
import { defaultSlotName, readSlot, type Slot, slotNameProblem } from '../source/slot.js';
import type { TableRef } from '../wal2json/change.js';
import { ReplicateError } from './errors.js';
import { initialSnapshot } from './initial-snapshot.js';
import { decideStart, type SnapshotMode } from './slot.js';

/** The DuckDB connection the sink writes through (the sink is the one room that names DuckDB's package). */
type DuckConnection = Parameters<typeof DuckDbSink.open>[0];

export interface PreflightOptions {
  readonly duckdb: string;
  readonly tables?: readonly TableRef[] | undefined;
  readonly slot?: string | undefined;
  readonly batchRows: number;
  readonly batchMs: number;
  readonly snapshot?: SnapshotMode | undefined;
  readonly snapshotJobs?: number | undefined;
  /** How the initial copy shows its progress (the CLI picks terminal or log). */
  readonly snapshotProgress?: ProgressSink | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly log: (msg: string) => void;
  readonly sinkLog?: ((msg: string) => void) | undefined;
  readonly warn: (msg: string) => void;
  /** Terminate a walsender still holding the slot (a stale consumer) instead of waiting for it. */
  readonly takeover?: boolean | undefined;
}

export interface Prepared {
  readonly sink: DuckDbSink;
  readonly slot: string;
  readonly tables: readonly SourceTable[];
  readonly system: IdentifySystemResult;
  readonly startLsn: Lsn;
}

/**
 * The preflight. `again` is the sink and tables of an earlier session of this run (a reconnect): the
 * catalog is not read again and the sink stays open; the slot decision is made afresh against what
 * the sink holds now.
 */
export async function prepare(
  src: Connection,
  duck: DuckConnection,
  settings: ConnectionSettings,
  o: PreflightOptions,
  again?: { readonly sink: DuckDbSink; readonly tables: readonly SourceTable[] },
): Promise<Prepared> {
  await checkWalLevel(src);
  const system = await src.identifySystem();
  const database = system.dbName ?? '';
  const slotName = o.slot ?? defaultSlotName(database);
  const badName = slotNameProblem(slotName);
  if (badName !== undefined) throw new ReplicateError('config', 'WALDUCK_SLOT_NAME', badName);
  if (!again) await checkSameSource(duck, slotName, o.duckdb, system.systemId, database);
  const tables =
    again?.tables ??
    (await readSourceTables(async (sql) => (await src.query(sql))[0]?.rows ?? [], o.tables, o.warn));
  if (!again) o.log(`tables: ${tables.map((t) => `${t.schema}.${t.table}`).join(', ')}`);

  const sink =
    again?.sink ??
    (await DuckDbSink.open(duck, tables, {
      slot: slotName,
      batchRows: o.batchRows,
      batchMs: o.batchMs,
      log: o.sinkLog ?? o.log,
      warn: o.warn,
      meta: { systemId: system.systemId, database },
    }));
  const hasState = sink.stateExisted || (again !== undefined && sink.storedLsn > 0n);
  // A mark from an unfinished snapshot of this file into this slot, on this server: the slot is ours.
  const pending = hasState ? undefined : await sink.snapshotPending();
  const ours = pending !== undefined && (pending.systemId === null || pending.systemId === system.systemId);
  let slotInfo = await readSlot(src, slotName);
  if (slotInfo?.activePid != null && o.takeover) {
    o.warn(
      `--takeover: terminating the server process ${slotInfo.activePid} that holds replication slot ${slotName}`,
    );
    await src.query(`SELECT pg_terminate_backend(${Number(slotInfo.activePid)})`);
    slotInfo = await waitInactive(src, slotName, slotInfo);
  }
  // A killed walduck's walsender may hold the slot for a moment after the kill.
  if ((ours || again) && slotInfo?.activePid != null) slotInfo = await waitInactive(src, slotName, slotInfo);
  checkSlotHealth(slotName, slotInfo, o.warn);
  const decision = decideStart(slotName, database, slotInfo, hasState ? sink.storedLsn : undefined, {
    // A reconnect resumes what this run began: never a second snapshot over a replica.
    mode: again && hasState ? 'auto' : (o.snapshot ?? 'auto'),
    pending: ours,
  });
  let startLsn: Lsn;
  if (decision.action === 'create' && decision.dropFirst) {
    if (ours) o.log(`dropping slot ${slotName}: its initial snapshot never committed; starting over`);
    else
      o.warn(`--snapshot: dropping the existing replication slot ${slotName} to create it with a snapshot`);
    await src.dropReplicationSlot(slotName);
  }
  if (decision.action === 'create' && decision.snapshot) {
    // Beside the DuckDB file, whose lock makes the spool this process's alone.
    const spool = CsvSpool.create(o.duckdb);
    try {
      startLsn = await initialSnapshot(src, sink, {
        settings,
        slot: slotName,
        tables,
        jobs: o.snapshotJobs ?? 1,
        log: o.log,
        warn: o.warn,
        ...(o.snapshotProgress ? { progress: o.snapshotProgress } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(spool ? { spool } : {}),
      });
    } finally {
      spool?.remove();
    }
  } else if (decision.action === 'create') {
    const created = await src.createReplicationSlot(slotName, { plugin: 'wal2json', snapshot: 'noexport' });
    startLsn = created.consistentPoint;
    o.log(`created slot ${slotName} at ${formatLsn(startLsn)}`);
    // Record the start at once: from now on DuckDB and the slot agree on where the replica begins.
    await sink.advanceIdle(startLsn);
  } else {
    startLsn = decision.from;
    if (decision.warning) o.warn(decision.warning);
  }
  return { sink, slot: slotName, tables, system, startLsn };
}

/**
 * A DuckDB file follows one database of one cluster. Pointed at another (a different system
 * identifier, or another database), resuming would mix two histories under one LSN: refuse. A
 * failover to a physical standby keeps the identifier, and is followed.
 */
async function checkSameSource(
  duck: DuckConnection,
  slot: string,
  file: string,
  systemId: string,
  database: string,
): Promise<void> {
  const state = await readState(duck, slot).catch(() => undefined);
  if (!state) return;
  if (
    (state.systemId !== null && state.systemId !== systemId) ||
    (state.database !== null && state.database !== database)
  ) {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_OTHER_SOURCE',
      `DuckDB file ${file} follows database ${state.database ?? '?'} of the cluster with system identifier ${state.systemId ?? '?'}, but the source is database ${database} of cluster ${systemId}: point --source at the server it was made from, or use a new DuckDB file`,
    );
  }
}

/** Past max_slot_wal_keep_size the server may invalidate the slot: say so before it happens. */
function checkSlotHealth(name: string, slot: Slot | undefined, warn: (msg: string) => void): void {
  if (!slot?.walStatus) return;
  if (slot.walStatus === 'lost') {
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_LOST',
      `replication slot ${name} was invalidated by the server (wal_status = 'lost': the WAL it needed is removed, max_slot_wal_keep_size was exceeded): the replica cannot continue; start over with a new DuckDB file and slot`,
    );
  }
  if (slot.walStatus !== 'reserved') {
    warn(
      `replication slot ${name} has wal_status = '${slot.walStatus}' (${slot.retainedBytes ?? '?'} bytes retained): the server may soon remove WAL the slot needs; walduck is behind, or max_slot_wal_keep_size is too small`,
    );
  }
}

/** Polls until the slot has no active process (at most `ms`); the decision then sees what is left. */
async function waitInactive(
  conn: Connection,
  name: string,
  slot: Slot,
  ms = 10_000,
): Promise<Slot | undefined> {
  const until = performance.now() + ms;
  let s: Slot | undefined = slot;
  while (s?.activePid != null && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    s = await readSlot(conn, name);
  }
  return s;
}

async function checkWalLevel(conn: Connection): Promise<void> {
  const [r] = await conn.query('SHOW wal_level');
  const level = r?.rows[0]?.[0];
  if (level !== 'logical') {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_WAL_LEVEL',
      `the source runs with wal_level=${level}, and logical replication needs wal_level=logical: set it in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL`,
    );
  }
}
