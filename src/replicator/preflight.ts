// Everything before streaming: open DuckDB, check the source (wal_level, identity, tables), open the
// sink, decide the slot and the start LSN (creating the slot, with the initial snapshot, when it is
// new). What it returns is all the loop needs to start.

import type { Connection, ConnectionSettings, IdentifySystemResult } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { attachedCatalog, readState } from '../sink/checkpoint.js';
import { DuckDbSink } from '../sink/duckdb-sink.js';
import { renamedAway, underRecordedNames } from '../sink/renamed-at-start.js';
import type { OnDropColumn, OnTypeChange } from '../sink/schema-follow.js';
import type { ChangeSink } from '../sink/sink.js';
import { TableSet } from '../sink/table-set.js';
import type { NumericMode } from '../sink/type-map.js';
import type { SnapshotDisplay } from '../snapshot/progress.js';
import { CsvSpool } from '../snapshot/spool.js';
import {
  CatalogError,
  type QueryFn,
  readSourceTables,
  type SkippedTable,
  type SourceTable,
} from '../source/catalog.js';
import { keyOrder, keyOrderProblem } from '../source/key-order.js';
import { quoteLiteral } from '../source/quote.js';
import { sourceSchemaCatalog } from '../source/schema-catalog.js';
import { defaultSlotName, readSlot, type Slot, slotNameProblem } from '../source/slot.js';
import { refKey, refName, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { ReplicateError } from './errors.js';
import { initialSnapshot } from './initial-snapshot.js';
import type { SinkFactory } from './replicate.js';
import { decideStart, type SnapshotMode } from './slot.js';
import { SourceCatalog } from './source-catalog.js';
import { openRouting, type Routing } from './table-routing.js';

/** The DuckDB connection the sink writes through (the sink is the one room that names DuckDB's package). */
type DuckConnection = Parameters<typeof DuckDbSink.open>[0];

export interface PreflightOptions {
  readonly duckdb: string;
  /** A caller's sink instead of DuckDB (no snapshot, no stored table set). */
  readonly sink?: SinkFactory | undefined;
  readonly tables?: readonly TableRef[] | undefined;
  readonly slot?: string | undefined;
  readonly batchChanges: number;
  readonly batchMs: number;
  /** DuckDB's memory_limit the file was opened with (the sink restores it after a raised COMMIT). */
  readonly duckdbMemoryLimit?: string | undefined;
  readonly numeric?: NumericMode | undefined;
  readonly onDropColumn?: OnDropColumn | undefined;
  readonly onTypeChange?: OnTypeChange | undefined;
  readonly dropRemoved?: boolean | undefined;
  readonly snapshot?: SnapshotMode | undefined;
  readonly snapshotJobs?: number | undefined;
  /** How the initial copy shows its progress (the CLI picks terminal or log). */
  readonly snapshotProgress?: SnapshotDisplay | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly log: (msg: string) => void;
  readonly sinkLog?: ((msg: string) => void) | undefined;
  readonly warn: (msg: string) => void;
  /** Terminate a walsender still holding the slot (a stale consumer) instead of waiting for it. */
  readonly takeover?: boolean | undefined;
  /**
   * A stream started before the preflight (early-start.ts): the slot as read before it started, where
   * it starts, and how to give it up. Kept only to resume at exactly that position.
   */
  readonly early?: EarlyStream | undefined;
}

export interface EarlyStream {
  readonly slot: Slot;
  readonly from: Lsn;
  /** Closes the early stream's connection; the slot is free once its walsender has exited. */
  abandon(): Promise<void>;
}

export interface Prepared {
  readonly sink: ChangeSink;
  readonly slot: string;
  readonly tables: readonly SourceTable[];
  /** wal2json's add-tables, or undefined: every table, filtered by the sink's table set (partitions). */
  readonly filter: readonly TableRef[] | undefined;
  readonly system: IdentifySystemResult;
  readonly startLsn: Lsn;
  /** The side connections (partition routing, schema catalog) that live as long as the run. */
  readonly routing: Routing;
  readonly catalog: SourceCatalog;
  /** The first session resumes on the early stream (PreflightOptions.early) instead of starting one. */
  readonly startedEarly?: boolean;
  close(): Promise<void>;
}

/**
 * The preflight. `again` is the sink and tables of an earlier session of this run (a reconnect): the
 * catalog is not read again and the sink stays open; the slot decision is made afresh against what
 * the sink holds now.
 */
export async function prepare(
  src: Connection,
  duck: DuckConnection | undefined,
  settings: ConnectionSettings,
  o: PreflightOptions,
  again?: Prepared,
): Promise<Prepared> {
  if (again) return await decide(src, settings, o, again);
  // The first session opens the run's side connections: closed again if it fails before the loop.
  const catalog = new SourceCatalog(settings, o.log);
  let routing: Routing | undefined;
  try {
    await checkServer(src);
    const system = await src.identifySystem();
    const database = system.dbName ?? '';
    const slotName = o.slot ?? defaultSlotName(database);
    const badName = slotNameProblem(slotName);
    if (badName !== undefined) throw new ReplicateError('config', 'WALDUCK_SLOT_NAME', badName);
    if (duck) await checkSameSource(duck, slotName, o.duckdb, system.systemId, database);
    const srcQuery: QueryFn = async (sql) => (await src.query(sql))[0]?.rows ?? [];
    // All-tables mode: the tables left out for want of a row identity, looked at again while streaming.
    const noIdentity: SkippedTable[] = [];
    const skip = (t: SkippedTable) => noIdentity.push(t);
    const read = await readSourceTables(srcQuery, o.tables, o.warn, skip).catch(async (err: unknown) => {
      // A followed table named by a name it no longer has: say it was renamed, and to what.
      if (duck && o.tables && err instanceof CatalogError && err.code === 'WALDUCK_UNKNOWN_TABLE') {
        const missing: TableRef[] = [];
        for (const t of o.tables)
          if (
            (
              await srcQuery(
                `SELECT to_regclass(${quoteLiteral(`"${t.schema.replaceAll('"', '""')}"."${t.table.replaceAll('"', '""')}"`)})`,
              )
            )[0]?.[0] == null
          )
            missing.push(t);
        const renamed = await renamedAway(duck, slotName, missing, srcQuery, o.tables);
        if (renamed) throw renamed;
      }
      throw err;
    });
    // Renamed while walduck was stopped: followed under the recorded name until the stream's rename.
    const tables = duck ? await underRecordedNames(duck, slotName, read, srcQuery, o.warn) : read;
    o.log(`tables: ${tables.map((t) => shownName(t)).join(', ')}`);
    const allTables = !o.tables || o.tables.length === 0;
    let tableSet: TableSet | undefined;
    const opened = await openRouting(settings, tables, {
      allTables,
      followRenames: duck !== undefined,
      log: o.log,
      warn: o.warn,
      onLeaf: (leaf) => tableSet?.addLeaf(leaf),
      onLeafGone: (leaf) => tableSet?.removeLeaf(leaf),
      onTableGone: (t) => tableSet?.dropped(t),
      onTableReplaced: (t) => tableSet?.replaced(t),
      onTableSkipped: (t, oid, why) => tableSet?.skipped(t, oid, why),
    });
    routing = opened;
    // The stored table set belongs to a DuckDB replica; a caller's sink keeps its own.
    tableSet =
      duck &&
      (await TableSet.reconcile(duck, {
        slot: slotName,
        mode: allTables ? 'all' : 'tables',
        chosen: tables,
        leaves: opened.leaves,
        maxOid: opened.maxOid,
        query: opened.query,
        dropRemoved: o.dropRemoved ?? false,
        copyProblem: keyOrderProblem,
        warn: o.warn,
        log: o.log,
      }));
    const set = tableSet;
    // One a record stopped (followed before, its DuckDB table kept as it was) joins by the next
    // start's decision, not here; a recorded name a followed table still has (renamed while walduck
    // was stopped) is that table's until the stream's rename.
    const chosenKeys = new Set(tables.map(refKey));
    const skippedNow = noIdentity.filter((t) => !chosenKeys.has(refKey(t)) && (set?.mayJoinLive(t) ?? true));
    opened.router.skippedAtStart(skippedNow);
    // Recorded as skipped (at the first DuckDB commit): the slot passes their rows. Without a record a
    // table dropped and created again under such a name while walduck runs (its changes dropped with
    // the name's) looked new since the last run at the next start, all its rows in WAL, and was not
    // copied (exit 0, verify DIFFERENT).
    for (const t of skippedNow)
      set?.skipped(t, t.oid, 'no primary key or replica identity when walduck started');
    const sink: ChangeSink = duck
      ? await DuckDbSink.open(duck, tables, {
          slot: slotName,
          batchChanges: o.batchChanges,
          batchMs: o.batchMs,
          ...(o.duckdbMemoryLimit ? { memoryLimit: o.duckdbMemoryLimit } : {}),
          log: o.sinkLog ?? o.log,
          warn: o.warn,
          meta: { systemId: system.systemId, database },
          schema: {
            onDropColumn: o.onDropColumn ?? 'keep',
            onTypeChange: o.onTypeChange ?? 'stop',
            catalog: sourceSchemaCatalog((sql) => catalog.query(sql)),
            ...(o.numeric ? { numeric: o.numeric } : {}),
          },
          ...(o.numeric ? { numeric: o.numeric } : {}),
          router: opened.router,
          keyCompare: (source) => {
            // A copy recorded for a table whose key has no copy order (resync after a key change).
            const problem = keyOrderProblem(source);
            if (problem !== undefined)
              throw new ReplicateError(
                'preflight',
                'WALDUCK_RESYNC_TABLE',
                `${shownName(source)} cannot be copied online: ${problem}`,
              );
            return keyOrder(source).compare;
          },
          // The table as the catalog has it now, for a re-copy with a changed schema.
          readSource: async (t: TableRef) => {
            const [table] = await readSourceTables((sql) => catalog.query(sql), [t]);
            if (!table)
              throw new ReplicateError(
                'apply',
                'WALDUCK_TABLE_MISSING',
                `${shownName(t)} is gone at the source`,
              );
            return { table, copyProblem: keyOrderProblem(table) };
          },
          ...(set
            ? {
                // With the leaves it joined with (onLeaf came before its record): a start comparing
                // them finds none added, and takes no leaf for one ATTACHed while walduck was stopped.
                onTableAdded: (t: SourceTable) =>
                  set.follow(t, opened.router.leavesOf(t).map(refName).sort()),
                collision: set.collision.bind(set),
                replacesDropped: set.replacesDropped.bind(set),
                onTablesRenamed: (renames: readonly { from: TableRef; to: TableRef }[], lsn: Lsn) =>
                  set.renamed(renames, formatLsn(lsn)),
                beforeCommit: set.write.bind(set),
                onCopied: (t: TableRef) => set.setState(t, 'streaming'),
                onRecopy: (t: TableRef) => set.setState(t, 'copying'),
              }
            : {}),
        })
      : await (o.sink as SinkFactory)({ tables, slot: slotName, systemId: system.systemId, database });
    const first: Prepared = {
      sink,
      slot: slotName,
      tables,
      filter: opened.filter,
      system,
      startLsn: 0n,
      routing: opened,
      catalog,
      close: async () => {
        await opened.close();
        await catalog.close();
      },
    };
    return await decide(src, settings, o, first, true);
  } catch (err) {
    await routing?.close().catch(() => {});
    await catalog.close().catch(() => {});
    throw err;
  }
}

/**
 * The slot decision and start LSN, made afresh at every session against what the sink holds now: a
 * reconnect (`first` false) resumes what this run began, never a second snapshot over a replica.
 */
async function decide(
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
    return await decide(src, settings, { ...o, early: undefined }, p, first);
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
  const state = await readState(duck, await attachedCatalog(duck), slot).catch(() => undefined);
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

async function checkServer(conn: Connection): Promise<void> {
  const [r] = await conn.query('SHOW wal_level');
  const level = r?.rows[0]?.[0];
  if (level !== 'logical') {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_WAL_LEVEL',
      `the source runs with wal_level=${level}, and logical replication needs wal_level=logical: set it in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL`,
    );
  }
  // wal2json writes a change's text in the database's encoding, unconverted (client_encoding does
  // not apply to a plugin's output), and walduck reads it as UTF-8: in a LATIN1 database a streamed
  // 'Ã¯' arrived as 'ï' while the snapshot's COPY, converted by the server, had it right; in
  // SQL_ASCII bytes that are not UTF-8 would become U+FFFD.
  // The server reports it at startup; a replication session's SHOW takes one name per command.
  const encoding =
    conn.serverParameters.get('server_encoding') ??
    (await conn.query('SHOW server_encoding'))[0]?.rows[0]?.[0];
  if (encoding !== 'UTF8') {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_ENCODING',
      `the source database's encoding is ${encoding}: wal2json sends its text unconverted, and walduck reads UTF-8, so streamed text would differ from the source; replicate needs a UTF8 database (CREATE DATABASE … ENCODING 'UTF8', then move the data with pg_dump/pg_restore)`,
    );
  }
}
