// `walduck replicate`, as a function: connect, check the source, prepare DuckDB, pick the start
// LSN, then stream -> decode -> apply -> commit -> acknowledge until told to stop.
//
// The one rule everything here serves: the server hears that an LSN is flushed only after the DuckDB
// transaction recording it has committed (DuckDbSink.commit returns it; only that is acknowledged).

import {
  type Connection,
  connect,
  type LogFn,
  parseConnectionString,
  type TraceFn,
} from '../protocol/index.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { openDuckDb } from '../sink/duckdb-file.js';

import { DuckDbSink, type SinkStats } from '../sink/duckdb-sink.js';
import type { OnDropColumn, OnTypeChange } from '../sink/schema-follow.js';
import type { ChangeSink } from '../sink/sink.js';

import { TableSet } from '../sink/table-set.js';
import type { NumericMode } from '../sink/type-map.js';
import { LogSnapshotDisplay, TerminalSnapshotDisplay } from '../snapshot/progress.js';
import { CsvSpool } from '../snapshot/spool.js';

import { readSourceTables, type SourceTable } from '../source/catalog.js';

import { sourceSchemaCatalog } from '../source/schema-catalog.js';

import { defaultSlotName, readSlot, type Slot, slotNameProblem } from '../source/slot.js';
import type { TableRef } from '../wal2json/change.js';
import { createDecoder, wal2jsonOptions } from '../wal2json/index.js';
import { ReplicateError } from './errors.js';
import { initialSnapshot } from './initial-snapshot.js';
import { Latency, type LatencySummary } from './latency.js';
import { decideStart, type SnapshotMode } from './slot.js';
import { SourceCatalog } from './source-catalog.js';
import { openRouting, type Routing } from './table-routing.js';
import { MessagePump, Wake } from './wake.js';

export type StopAt =
  | { readonly kind: 'never' }
  | { readonly kind: 'endpos'; readonly lsn: Lsn }
  | { readonly kind: 'caught-up' };

/** What a caller's sink factory learns before streaming starts. */
export interface SinkContext {
  /** The chosen tables as the source catalog describes them (columns, types, key, replica identity). */
  readonly tables: readonly SourceTable[];
  readonly slot: string;
  readonly systemId: string;
  readonly database: string;
}

/** Opens the caller's sink; its `storedLsn` (0n: new) decides where the stream resumes. */
export type SinkFactory = (context: SinkContext) => Promise<ChangeSink>;

export interface ReplicateOptions {
  readonly source: string | undefined;
  /** The DuckDB file; unused (and may be omitted) when `sink` is given. */
  readonly duckdb?: string | undefined;
  /**
   * A caller's own sink instead of the DuckDB file. There is no initial snapshot then (the copy is
   * DuckDB-specific): the sink sees changes from the slot's creation on; snapshot 'force' is refused.
   */
  readonly sink?: SinkFactory | undefined;
  /** DuckDB's memory_limit: past it, DuckDB spills (staged rows of a huge transaction included). */
  readonly duckdbMemoryLimit?: string;
  readonly tables?: readonly TableRef[] | undefined;
  /** Drop the DuckDB table of a table no longer in the set (default: leave it, no longer followed). */
  readonly dropRemoved?: boolean;
  readonly slot?: string | undefined;
  readonly formatVersion: 1 | 2;
  readonly writeInChunks: boolean;
  /** Changes per DuckDB transaction (--batch-changes). */
  readonly batchChanges: number;
  readonly batchMs: number;
  /** Unconstrained numeric as DOUBLE (default) or exactly (sink/type-map.ts). */
  readonly numeric?: NumericMode;
  readonly stopAt: StopAt;
  /** The initial copy of existing rows (default auto: when walduck creates the slot). */
  readonly snapshot?: SnapshotMode;
  /** Connections copying at once under the same snapshot (default 1). */
  readonly snapshotJobs?: number;
  /** A column dropped on the source: kept in DuckDB (default) or dropped there too. */
  readonly onDropColumn?: OnDropColumn;
  /** A change DuckDB cannot follow in place: stop (default) or re-copy the table (not available yet). */
  readonly onTypeChange?: OnTypeChange;
  readonly feedbackIntervalMs?: number;
  readonly signal?: AbortSignal;
  readonly log: LogFn;
  /** Each layer's own log (walduck:protocol, walduck:wal2json, walduck:sink); `log` where not given. */
  readonly logs?: { readonly protocol?: LogFn; readonly wal2json?: LogFn; readonly sink?: LogFn };
  readonly warn: (msg: string) => void;
  readonly trace?: TraceFn;
  readonly onStatus?: (p: ReplicateStatus) => void;
}

/** Where replication stands: what the CLI's progress display shows. */
export interface ReplicateStatus {
  readonly changes: number;
  readonly transactions: number;
  readonly bytes: number;
  readonly received: Lsn;
  readonly applied: Lsn;
  readonly serverEnd: Lsn;
}

export interface ReplicateResult extends ReplicateStatus {
  readonly slot: string;
  /** Source commit to DuckDB commit, per transaction (when wal2json sent commit timestamps). */
  readonly latency: LatencySummary | undefined;
  readonly startedAt: Lsn;
  readonly stoppedBy: 'endpos' | 'caught-up' | 'signal';
  /** UPDATE/DELETE rows DuckDB could not match one to one (each warned about): 0 for an equal replica. */
  readonly unmatched: number;
}

/** With a stop target, how long a quiet stream waits before asking the server where its WAL ends. */
const PING_MS = 200;
/** Without one, how often a quiet stream wakes to commit what is complete. */
const IDLE_MS = 1000;

export async function replicate(o: ReplicateOptions): Promise<ReplicateResult> {
  const settings = parseConnectionString(o.source, process.env);
  if (o.sink && o.snapshot === 'force') {
    throw new ReplicateError(
      'config',
      'WALDUCK_SNAPSHOT_CUSTOM_SINK',
      'an initial snapshot copies into DuckDB only: a custom sink starts at the slot (use snapshot auto or off)',
    );
  }
  if (!o.sink && !o.duckdb) {
    throw new ReplicateError(
      'config',
      'WALDUCK_NO_TARGET',
      'nothing to replicate into: give a DuckDB file or a sink',
    );
  }
  const instance = o.sink
    ? undefined
    : await openDuckDb(o.duckdb ?? '', { memoryLimit: o.duckdbMemoryLimit });
  const duck = await instance?.connect();
  let conn: Connection | undefined;
  // A plain session beside the replication one: the stream's COPY holds that one while schema
  // changes need the catalog.
  const catalog = new SourceCatalog(settings, o.logs?.protocol ?? o.log);
  let routing: Routing | undefined;
  try {
    conn = await connect(settings, {
      replication: 'database',
      log: o.logs?.protocol ?? o.log,
      ...(o.trace ? { trace: o.trace } : {}),
      onNotice: (n) => o.warn(`server ${n.severity}: ${n.message}`),
    });
    const src = conn;
    await checkWalLevel(src);
    const system = await src.identifySystem();
    const database = system.dbName ?? '';
    const slotName = o.slot ?? defaultSlotName(database);
    const badName = slotNameProblem(slotName);
    if (badName !== undefined) throw new ReplicateError('config', 'WALDUCK_SLOT_NAME', badName);
    const tables = await readSourceTables(
      async (sql) => (await src.query(sql))[0]?.rows ?? [],
      o.tables,
      o.warn,
    );
    o.log(`tables: ${tables.map((t) => `${t.schema}.${t.table}`).join(', ')}`);
    const allTables = !o.tables || o.tables.length === 0;
    let tableSet: TableSet | undefined;
    routing = await openRouting(settings, tables, {
      allTables,
      log: o.log,
      warn: o.warn,
      onLeaf: (leaf) => tableSet?.addLeaf(leaf),
    });
    // The stored table set belongs to a DuckDB replica; a caller's sink keeps its own.
    tableSet =
      duck &&
      (await TableSet.reconcile(duck, {
        slot: slotName,
        mode: allTables ? 'all' : 'tables',
        chosen: tables,
        leaves: routing.leaves,
        maxOid: routing.maxOid,
        query: routing.query,
        dropRemoved: o.dropRemoved ?? false,
        warn: o.warn,
        log: o.log,
      }));
    const set = tableSet;

    const sink = duck
      ? await DuckDbSink.open(duck, tables, {
          slot: slotName,
          batchChanges: o.batchChanges,
          batchMs: o.batchMs,
          log: o.logs?.sink ?? o.log,
          warn: o.warn,
          meta: { systemId: system.systemId, database },
          schema: {
            onDropColumn: o.onDropColumn ?? 'keep',
            onTypeChange: o.onTypeChange ?? 'stop',
            catalog: sourceSchemaCatalog((sql) => catalog.query(sql)),
          },
          ...(o.numeric ? { numeric: o.numeric } : {}),
          router: routing.router,
          ...(set ? { onTableAdded: set.follow.bind(set), beforeCommit: set.write.bind(set) } : {}),
        })
      : counted(
          await (o.sink as SinkFactory)({ tables, slot: slotName, systemId: system.systemId, database }),
        );
    const stateExisted = sink instanceof DuckDbSink ? sink.stateExisted : sink.storedLsn !== 0n;
    // A mark from an unfinished snapshot of this file into this slot, on this server: the slot is ours.
    const pending = !(sink instanceof DuckDbSink) || stateExisted ? undefined : await sink.snapshotPending();
    const ours = pending !== undefined && (pending.systemId === null || pending.systemId === system.systemId);
    let slotInfo = await readSlot(src, slotName);
    // A killed walduck's walsender may hold the slot for a moment after the kill.
    if (ours && slotInfo?.activePid != null) slotInfo = await waitInactive(src, slotName, slotInfo);
    const decision = decideStart(slotName, database, slotInfo, stateExisted ? sink.storedLsn : undefined, {
      mode: o.sink ? 'off' : (o.snapshot ?? 'auto'),
      pending: ours,
    });
    let startLsn: Lsn;
    if (decision.action === 'create' && decision.dropFirst) {
      if (ours) o.log(`dropping slot ${slotName}: its initial snapshot never committed; starting over`);
      else
        o.warn(`--snapshot: dropping the existing replication slot ${slotName} to create it with a snapshot`);
      await src.dropReplicationSlot(slotName);
    }
    if (decision.action === 'create' && decision.snapshot && sink instanceof DuckDbSink) {
      // Beside the DuckDB file, whose lock makes the spool this process's alone.
      const spool = CsvSpool.create(o.duckdb ?? '');
      try {
        startLsn = await initialSnapshot(src, sink, {
          settings,
          slot: slotName,
          tables,
          jobs: o.snapshotJobs ?? 1,
          log: o.log,
          warn: o.warn,
          progress: process.stderr.isTTY
            ? new TerminalSnapshotDisplay(process.stderr)
            : new LogSnapshotDisplay(o.log),
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

    if (o.formatVersion === 1) {
      o.warn(
        'wal2json format-version 1 does not report TRUNCATE (wal2json 2.5 emits nothing for it): a truncated source table will keep its rows in DuckDB; use --format-version 2 if tables are truncated',
      );
    }
    const target =
      o.stopAt.kind === 'endpos' ? o.stopAt.lsn : o.stopAt.kind === 'caught-up' ? system.xlogPos : undefined;
    return await stream(src, sink, o, slotName, startLsn, target, routing.filter);
  } finally {
    await routing?.close();
    await conn?.close().catch(() => {});
    await catalog.close();
    duck?.closeSync();
    instance?.closeSync();
  }
}

/** The loop's view of a sink: the contract plus the counts progress reports. */
type CountedSink = ChangeSink & { readonly stats: Pick<SinkStats, 'changes' | 'transactions' | 'unmatched'> };

/** A caller's sink, counted here (DuckDbSink counts itself). */
function counted(inner: ChangeSink): CountedSink {
  const stats = { changes: 0, transactions: 0, unmatched: 0 };
  return {
    stats,
    get storedLsn() {
      return inner.storedLsn;
    },
    get inSourceTransaction() {
      return inner.inSourceTransaction;
    },
    get hasUncommitted() {
      return inner.hasUncommitted;
    },
    get due() {
      return inner.due;
    },
    async apply(change) {
      await inner.apply(change);
      if (change.kind === 'commit') stats.transactions++;
      else if (change.kind === 'insert' || change.kind === 'update' || change.kind === 'delete')
        stats.changes++;
    },
    commit: () => inner.commit(),
    rollback: () => inner.rollback(),
    advanceIdle: (lsn) => inner.advanceIdle(lsn),
  };
}

async function stream(
  conn: Connection,
  sink: CountedSink,
  o: ReplicateOptions,
  slot: string,
  startLsn: Lsn,
  target: Lsn | undefined,
  /** add-tables, or undefined for every table (filtered by the sink's table set). */
  tables: readonly TableRef[] | undefined,
): Promise<ReplicateResult> {
  const decoder = createDecoder({ formatVersion: o.formatVersion, log: o.logs?.wal2json ?? o.log });
  const replication = await conn.startReplication({
    slot,
    startLsn,
    options: wal2jsonOptions({
      formatVersion: o.formatVersion,
      ...(tables ? { tables } : {}),
      ...(o.formatVersion === 1 ? { writeInChunks: o.writeInChunks } : {}),
    }),
    ...(o.feedbackIntervalMs ? { feedbackIntervalMs: o.feedbackIntervalMs } : {}),
  });
  o.log(`streaming from slot ${slot} at ${formatLsn(startLsn)}`);
  let bytes = 0;
  let serverEnd = startLsn;
  let stoppedBy: ReplicateResult['stoppedBy'] | undefined;
  const latency = new Latency();
  let beginTime: string | undefined;
  const ack = (lsn: Lsn | undefined) => {
    if (lsn === undefined) return;
    latency.committed(Date.now());
    replication.acknowledge(lsn);
  };
  const progress = (): ReplicateStatus => ({
    changes: sink.stats.changes,
    transactions: sink.stats.transactions,
    bytes,
    received: replication.lastReceived,
    applied: sink.storedLsn,
    serverEnd,
  });
  const reached = () => target !== undefined && sink.storedLsn >= target && !sink.hasUncommitted;

  const endpos = o.stopAt.kind === 'endpos' ? o.stopAt.lsn : undefined;
  const wake = new Wake(Math.min(o.batchMs, target !== undefined ? PING_MS : IDLE_MS), o.signal);
  const pump = new MessagePump(replication, wake);
  // A timer tick while the stream is quiet: commit a batch that has waited --batch-ms, and with a stop
  // target ask the server how far its WAL goes (a status update with replyRequested: the keepalive it
  // answers with carries its WAL end, which lets an idle replica advance to the target).
  const onTick = async () => {
    if (sink.due) ack(await sink.commit());
    if (target !== undefined && !sink.hasUncommitted) replication.requestKeepalive();
  };
  try {
    if (reached()) stoppedBy = o.stopAt.kind === 'endpos' ? 'endpos' : 'caught-up';
    while (!stoppedBy) {
      const m = await pump.next(onTick);
      if (m === 'abort') {
        stoppedBy = 'signal';
        break;
      }
      if (m === 'end')
        throw new ReplicateError('stream', 'WALDUCK_STREAM_ENDED', 'the server ended the replication stream');
      if (m.type === 'XLogData') {
        if (endpos !== undefined && m.dataStart > endpos) {
          stoppedBy = 'endpos';
          break;
        }
        bytes += m.data.length;
        if (m.walEnd > serverEnd) serverEnd = m.walEnd;
        for (const change of decoder.decode(m.data, m.dataStart)) {
          if (o.signal?.aborted) {
            // Leaving the decoder mid-message is final: the next message would start mid-document.
            stoppedBy = 'signal';
            break;
          }
          // --endpos takes whole transactions ending at or before it. A v1 document arrives stamped
          // with its transaction's start, so decide on the end LSN the begin (or commit) carries.
          if (
            endpos !== undefined &&
            (change.kind === 'begin' ? (change.endLsn ?? 0n) : change.kind === 'commit' ? change.lsn : 0n) >
              endpos
          ) {
            stoppedBy = 'endpos';
            break;
          }
          await sink.apply(change);
          // v1 documents carry the commit time in their header (begin), v2 on the commit line too.
          if (change.kind === 'begin') beginTime = change.commitTime;
          else if (change.kind === 'commit') latency.seen(change.commitTime ?? beginTime);
          if (change.kind === 'commit' && (sink.due || (target !== undefined && change.lsn >= target))) {
            ack(await sink.commit());
          }
        }
      } else {
        if (m.walEnd > serverEnd) serverEnd = m.walEnd;
        if (!sink.inSourceTransaction) {
          if (sink.hasUncommitted) ack(await sink.commit());
          // Nothing pending: everything up to walEnd is decoded and none of it is ours to apply.
          const idleTo = target !== undefined && m.walEnd > target ? target : m.walEnd;
          if (await sink.advanceIdle(idleTo)) ack(sink.storedLsn);
        }
      }
      o.onStatus?.(progress());
      if (reached()) stoppedBy = o.stopAt.kind === 'endpos' ? 'endpos' : 'caught-up';
    }
    // A source transaction cut in half (signal, endpos inside it) is dropped; complete ones commit.
    if (sink.inSourceTransaction) {
      await sink.rollback();
      latency.dropped();
    } else ack(await sink.commit());
    replication.sendFeedback();
    await replication.stop();
  } catch (err) {
    await sink.rollback().catch(() => {});
    throw err;
  } finally {
    wake.close();
  }
  return {
    ...progress(),
    slot,
    startedAt: startLsn,
    stoppedBy: stoppedBy ?? 'signal',
    latency: latency.summary(),
    unmatched: sink.stats.unmatched,
  };
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
