// The slot decision and start LSN of every session (preflight.ts's prepare opens the first one): the
// slot read (or the early stream's, kept when it starts where the decision does), a walsender still
// holding it waited for or terminated (--takeover), a slot the server invalidated refused, then the
// slot created (with the initial snapshot when asked) or resumed. Kept apart from the first session's
// checks, tables and sink: a reconnect runs only this half, against what the sink holds by then.

import type { Connection, ConnectionSettings } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { DuckDbSink } from '../sink/duckdb-sink.js';
import { CsvSpool } from '../snapshot/spool.js';
import { readSlot, type Slot } from '../source/slot.js';
import { ReplicateError } from './errors.js';
import { initialSnapshot } from './initial-snapshot.js';
import { checkServer } from './preflight-checks.js';
import type { EarlyStream, PreflightOptions, Prepared } from './preflight-options.js';
import { decideStart } from './slot.js';

/**
 * The slot decision and start LSN, made afresh at every session against what the sink holds now: a
 * reconnect (`first` false) resumes what this run began, never a second snapshot over a replica.
 */
export async function decideSlot(
  src: Connection,
  settings: ConnectionSettings,
  o: PreflightOptions,
  p: Prepared,
  first = false,
): Promise<Prepared> {
  const again = !first;
  if (again) await checkServer(src);
  const { sink, tables, system } = p;
  const database = system.dbName ?? '';
  const slotName = p.slot;
  const stateExisted = sink instanceof DuckDbSink ? sink.stateExisted : sink.storedLsn !== 0n;
  const hasState = stateExisted || (again && sink.storedLsn > 0n);
  // A mark from an unfinished snapshot of this file into this slot, on this server: the slot is ours.
  const pending = hasState || !(sink instanceof DuckDbSink) ? undefined : await sink.snapshotPending();
  const ours = pending !== undefined && (pending.systemId === null || pending.systemId === system.systemId);
  const early = first && o.early?.slot.name === slotName && p.filter === undefined ? o.early : undefined;
  if (first && o.early && !early) await release(src, o.early);
  // The early stream made the slot active: the decision looks at the slot as it was before.
  let slotInfo = early ? early.slot : await readSlot(src, slotName);
  if (slotInfo?.activePid != null && o.takeover) {
    o.warn(
      `--takeover: terminating the server process ${slotInfo.activePid} that holds replication slot ${slotName}`,
    );
    await src.query(`SELECT pg_terminate_backend(${Number(slotInfo.activePid)})`);
    slotInfo = await waitInactive(src, slotName, slotInfo);
  }
  // A killed walduck's walsender may hold the slot for a moment after the kill.
  if ((ours || again) && slotInfo?.activePid != null) slotInfo = await waitInactive(src, slotName, slotInfo);
  checkSlotHealth(slotName, slotInfo);
  const decision = decideStart(slotName, database, slotInfo, hasState ? sink.storedLsn : undefined, {
    mode: o.sink ? 'off' : again && hasState ? 'auto' : (o.snapshot ?? 'auto'),
    pending: ours,
  });
  if (early) {
    // The same bytes as a START at the decided position: keep the stream. Anything else (the file
    // ahead of the slot, a slot to create): give it up and decide again on the slot as it is then.
    if (decision.action === 'resume' && decision.from === early.from) {
      if (decision.warning) o.warn(decision.warning);
      return { ...p, startLsn: decision.from, startedEarly: true };
    }
    await release(src, early);
    return await decideSlot(src, settings, { ...o, early: undefined }, p, first);
  }
  let startLsn: Lsn;
  if (decision.action === 'create' && decision.dropFirst) {
    if (ours) o.log(`dropping slot ${slotName}: its initial snapshot never committed; starting over`);
    else
      o.warn(`--snapshot: dropping the existing replication slot ${slotName} to create it with a snapshot`);
    await src.dropReplicationSlot(slotName);
  }
  if (decision.action === 'create' && decision.snapshot && sink instanceof DuckDbSink) {
    // Beside the DuckDB file, whose lock makes the spool this process's alone.
    const spool = CsvSpool.create(o.duckdb);
    try {
      startLsn = await initialSnapshot(src, sink, {
        settings,
        slot: slotName,
        tables,
        jobs: o.snapshotJobs ?? 1,
        allTables: !o.tables || o.tables.length === 0,
        ...(p.refused ? { refused: p.refused } : {}),
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
  return { ...p, startLsn, startedEarly: false };
}

/**
 * A slot the server invalidated cannot resume. (A slot merely in danger is the slot guard's to report,
 * once per change and in the progress line: slot-guard.ts; said here too, it would repeat on every
 * reconnect.)
 */
function checkSlotHealth(name: string, slot: Slot | undefined): void {
  if (slot?.walStatus === 'lost') {
    throw new ReplicateError(
      'slot',
      'WALDUCK_SLOT_LOST',
      `replication slot ${name} was invalidated by the server (wal_status = 'lost': the WAL it needed is removed, max_slot_wal_keep_size was exceeded): the replica cannot continue; start over with a new DuckDB file and slot`,
    );
  }
}

/** Gives the early stream up and waits until its walsender has let the slot go. */
async function release(conn: Connection, early: EarlyStream): Promise<void> {
  await early.abandon();
  const slot = await readSlot(conn, early.slot.name);
  if (slot?.activePid != null) await waitInactive(conn, early.slot.name, slot);
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
