// The initial snapshot's copy: every chosen table's rows as of the slot's exported snapshot, read with
// COPY … TO STDOUT (text) on ordinary connections and handed to the sink in batches of column arrays.
//
// Each of the `jobs` connections opens BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION
// SNAPSHOT '…' before any copy starts: the exported snapshot only lives while the replication
// connection that created the slot stays idle, so the caller keeps it so until this returns. Then the
// jobs take work from one queue: whole tables, or with several jobs the ctid page ranges of large
// ones (ranges.ts). DuckDB gets one write at a time (one connection, one transaction); memory per job
// is one batch plus the wire's copy buffer, whatever the table size.

import {
  type Connection,
  type ConnectionSettings,
  connect,
  type LogFn,
  PgServerError,
  WalduckError,
} from '../protocol/index.js';
import type { CsvSegment } from '../sink/csv-load.js';
import type { SourceTable } from '../source/catalog.js';
import { qualified, quoteIdent, quoteLiteral } from '../source/quote.js';
import { readSourceTables } from '../source/source-tables.js';
import type { TableRef, Value } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { CopyTextParser } from './copy-text.js';
import type { SnapshotDisplay, TableCopy } from './progress.js';
import { type PageRange, pageRanges, rangeCondition } from './ranges.js';
import type { CsvSpool } from './spool.js';

export interface SnapshotTarget {
  insertCopied(ref: TableRef, columns: readonly (readonly Value[])[], count: number): Promise<void>;
  /** Whether DuckDB's CSV reader can load this table's COPY csv text as it is (no JS rewriting). */
  loadsCsv(ref: TableRef): boolean;
  /** Loads a spooled segment of the table's COPY csv rows (and deletes the file). */
  loadCsv(ref: TableRef, segment: CsvSegment): Promise<void>;
}

export interface CopySnapshotOptions {
  readonly settings: ConnectionSettings;
  readonly snapshotName: string;
  readonly tables: readonly SourceTable[];
  readonly target: SnapshotTarget;
  readonly jobs: number;
  /** Rows per batch handed to the target (default 4096: two DuckDB vectors). */
  readonly batchRows?: number;
  readonly log: LogFn;
  readonly progress?: SnapshotDisplay;
  readonly signal?: AbortSignal;
  /** Where csv segments go for tables the target loads as CSV; without it every table is parsed here. */
  readonly spool?: CsvSpool;
  /** `tables` are every table (no --tables): one the snapshot holds beyond them fails the copy. */
  readonly allTables?: boolean;
  /** The oids of tables the start skipped though they can be replicated: not ones that joined. */
  readonly refused?: ReadonlySet<string>;
}

export interface SnapshotStats {
  readonly rows: number;
  readonly bytes: number;
  readonly ms: number;
}

export class SnapshotError extends WalduckError {
  override readonly name = 'SnapshotError';
  readonly phase = 'snapshot';
  constructor(
    readonly code:
      | 'WALDUCK_SNAPSHOT_INTERRUPTED'
      | 'WALDUCK_SNAPSHOT_FAILED'
      | 'WALDUCK_SNAPSHOT_TABLES_JOINED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Task {
  readonly table: SourceTable;
  readonly range: PageRange;
  readonly progress: TableCopy;
}

const DEFAULT_BATCH_ROWS = 4096;

export async function copySnapshot(o: CopySnapshotOptions): Promise<SnapshotStats> {
  const t0 = performance.now();
  const jobs = Math.max(1, Math.floor(o.jobs));
  const conns: Connection[] = [];
  // A stop asked for ends the copy now: a copy waiting for a lock, or on a server that went quiet,
  // would otherwise hold the stop until it moves (a service manager's stop timeout then kills us).
  // Closing the connections fails what waits on them; that failure is reported as the interruption.
  const onStop = () => {
    for (const c of conns) void c.close().catch(() => {});
  };
  o.signal?.addEventListener('abort', onStop, { once: true });
  try {
    for (let i = 0; i < jobs; i++) {
      const c = await connect(o.settings, {
        replication: false,
        log: o.log,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      conns.push(c);
      if (o.signal?.aborted) throw interrupted();
      await c.query(beginSql(o.snapshotName, i === 0 ? o.tables : []));
    }
    o.log(`snapshot ${o.snapshotName} imported on ${jobs} connection(s)`);
    const first = conns[0] as Connection;
    await checkNotRewritten(first, o.tables);
    if (o.allTables) await checkNoneJoined(first, o.tables, o.refused);
    const tasks: Task[] = [];
    const remaining = new Map<TableCopy, number>();
    for (const table of o.tables) {
      const pages = jobs > 1 ? await relationPages(first, table) : 0;
      const ranges = pageRanges(pages, jobs);
      if (ranges.length > 1)
        o.log(`snapshot ${shownName(table)}: ${pages} pages in ${ranges.length} ctid ranges`);
      const progress: TableCopy = {
        name: shownName(table),
        rows: 0,
        bytes: 0,
        startedAt: performance.now(),
        done: false,
      };
      remaining.set(progress, ranges.length);
      for (const range of ranges) tasks.push({ table, range, progress });
    }
    let next = 0;
    let writing: Promise<void> = Promise.resolve();
    /** One DuckDB write at a time, in arrival order. */
    const write = (ref: TableRef, load: () => Promise<void>): Promise<void> => {
      const w = writing.then(() =>
        load().catch((err: unknown) => {
          throw new SnapshotError(
            'WALDUCK_SNAPSHOT_FAILED',
            `copying ${shownName(ref)} into DuckDB failed: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }),
      );
      writing = w.catch(() => {});
      return w;
    };
    let failed: unknown;
    const worker = async (conn: Connection): Promise<void> => {
      while (failed === undefined && next < tasks.length) {
        const task = tasks[next++] as Task;
        if (task.progress.rows === 0 && task.progress.bytes === 0)
          task.progress.startedAt = performance.now();
        await copyTask({ conn, o, write, otherFailed: () => failed !== undefined }, task);
        const left = (remaining.get(task.progress) ?? 1) - 1;
        remaining.set(task.progress, left);
        if (left === 0) {
          task.progress.done = true;
          o.progress?.finish(task.progress);
        }
      }
    };
    await Promise.all(
      conns.map((c) =>
        worker(c).catch((err) => {
          failed ??= err;
          // The other jobs stop at their next batch; closing their connections is the caller's finally.
        }),
      ),
    );
    if (failed !== undefined) {
      // Every queued DuckDB write ends before the caller rolls back (writing never rejects).
      await writing;
      throw failed;
    }
    if (o.signal?.aborted) throw interrupted();
    let rows = 0;
    let bytes = 0;
    for (const p of remaining.keys()) {
      rows += p.rows;
      bytes += p.bytes;
    }
    return { rows, bytes, ms: performance.now() - t0 };
  } catch (err) {
    throw o.signal?.aborted && !isInterrupted(err) ? interrupted(err) : err;
  } finally {
    o.signal?.removeEventListener('abort', onStop);
    // Read-only transactions: closing ends them.
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
  }
}

/** What one copy job works with: its connection, and the DuckDB writer all jobs share. */
interface Job {
  readonly conn: Connection;
  readonly o: CopySnapshotOptions;
  /** Queues a DuckDB write behind the other jobs' (one writer, arrival order). */
  readonly write: (ref: TableRef, load: () => Promise<void>) => Promise<void>;
  readonly otherFailed: () => boolean;
}

/**
 * What pg_dump does right after importing the snapshot, in the same round trip (no idle moment):
 * - The timeouts off: a role's statement_timeout, lock_timeout or idle_in_transaction_session_timeout
 *   would otherwise kill a long copy halfway.
 * - row_security off: a copy filtered by a policy would be a silently partial replica. With it off,
 *   PostgreSQL refuses (42501) a table whose policies apply to this role instead of filtering it.
 * - ACCESS SHARE locks on every chosen table, on the first connection, held to the end: TRUNCATE and
 *   rewriting ALTER TABLE are not MVCC-safe (a copy after them sees the table empty under an older
 *   snapshot), and these locks make them wait until the copy is done.
 */
function beginSql(snapshotName: string, lock: readonly SourceTable[]): string {
  const parts = [
    'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    `SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`,
    'SET statement_timeout = 0',
    'SET lock_timeout = 0',
    'SET idle_in_transaction_session_timeout = 0',
    'SET row_security = off',
  ];
  if (lock.length > 0)
    parts.push(`LOCK TABLE ${lock.map((t) => qualified(t.schema, t.table)).join(', ')} IN ACCESS SHARE MODE`);
  return parts.join('; ');
}

/**
 * A TRUNCATE or rewriting ALTER that committed between the snapshot and our locks gave the table a
 * new file whose rows the snapshot cannot see: the copy would find it empty, silently. The table's
 * pg_class row as the snapshot sees it names the old file; pg_relation_filenode() names the current.
 */
async function checkNotRewritten(conn: Connection, tables: readonly SourceTable[]): Promise<void> {
  const oids = tables.flatMap((t) => (t.oid !== undefined && /^\d+$/.test(t.oid) ? [t.oid] : []));
  if (oids.length === 0) return;
  const list = `ARRAY[${oids.join(',')}]::oid[]`;
  const [r] = await conn.query(
    `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE (c.oid = ANY (${list})
             OR c.oid IN (SELECT p.relid FROM unnest(${list}) AS u(oid), pg_partition_tree(u.oid) AS p))
        AND c.relfilenode <> pg_relation_filenode(c.oid)`,
  );
  const changed = (r?.rows ?? []).map((row) => `${row[0]}.${row[1]}`);
  if (changed.length > 0) {
    throw new SnapshotError(
      'WALDUCK_SNAPSHOT_FAILED',
      `table ${changed.join(', ')} was truncated or rewritten (TRUNCATE, ALTER TABLE, CLUSTER, VACUUM FULL) after the snapshot was taken, so its copy would be empty: run walduck again (a new slot and snapshot)`,
    );
  }
}

/**
 * Every table: the list was read before the slot was created, and creating it waits for the
 * transactions running then. A table one of them created is in the snapshot but not in the list: its
 * rows up to the slot would be in neither the copy nor the stream (which takes it as new at its next
 * change), silently. The session fails, drops the slot it made, and is retried with a new list.
 */
async function checkNoneJoined(
  conn: Connection,
  tables: readonly SourceTable[],
  refused: ReadonlySet<string> = new Set(),
): Promise<void> {
  const listed = new Set([...tables.map((t) => t.oid), ...refused]);
  const seen = await readSourceTables(async (sql) => (await conn.query(sql))[0]?.rows ?? [], undefined);
  const joined = seen.filter((t) => !listed.has(t.oid)).map((t) => shownName(t));
  if (joined.length > 0)
    throw new SnapshotError(
      'WALDUCK_SNAPSHOT_TABLES_JOINED',
      `table ${joined.join(', ')} was created while the replication slot was being made, after the tables were listed: the initial snapshot starts over with it`,
    );
}

async function copyTask(job: Job, task: Task): Promise<void> {
  const { spool, target } = job.o;
  try {
    await (spool && target.loadsCsv(task.table) ? copyCsv(job, task, spool) : copyText(job, task));
  } catch (err) {
    // 42501 with row_security off: a policy applies to this role. Say so in one line, not as a bare
    // permission error.
    if (err instanceof PgServerError && err.code === '42501' && /row-level security/i.test(err.message)) {
      throw new SnapshotError(
        'WALDUCK_SNAPSHOT_FAILED',
        `table ${shownName(task.table)} has row-level security policies that apply to role "${job.o.settings.user}": its copy would be silently partial. Connect as the table's owner, a superuser, or a role with BYPASSRLS`,
        { cause: err },
      );
    }
    throw err;
  }
}

function copySql(task: Task, options: string): string {
  const { table } = task;
  const cols = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `COPY (SELECT ${cols} FROM ${quoteIdent(table.schema)}.${quoteIdent(table.table)}${rangeCondition(task.range)}) TO STDOUT${options}`;
}

function interrupted(cause?: unknown): SnapshotError {
  return new SnapshotError(
    'WALDUCK_SNAPSHOT_INTERRUPTED',
    'interrupted during the initial snapshot',
    cause === undefined ? undefined : { cause },
  );
}

function isInterrupted(err: unknown): boolean {
  return err instanceof SnapshotError && err.code === 'WALDUCK_SNAPSHOT_INTERRUPTED';
}

function checkGoOn({ o, otherFailed }: Job): void {
  if (o.signal?.aborted) throw interrupted();
  if (otherFailed()) throw new SnapshotError('WALDUCK_SNAPSHOT_FAILED', 'another copy job failed');
}

/** Text COPY parsed here into column arrays: for tables with values DuckDB cannot read as they are. */
async function copyText(job: Job, task: Task): Promise<void> {
  const { conn, o, write } = job;
  const { table, progress } = task;
  const batchRows = o.batchRows ?? DEFAULT_BATCH_ROWS;
  const parser = new CopyTextParser(table.columns.length);
  const flush = () => write(table, () => o.target.insertCopied(table, parser.columns, parser.count));
  for await (const batch of conn.copyOut(copySql(task, ''))) {
    for (const data of batch) {
      parser.push(data);
      progress.bytes += data.length;
    }
    if (parser.count >= batchRows) {
      checkGoOn(job);
      progress.rows += parser.count;
      await flush();
      parser.reset();
      o.progress?.update(progress);
    }
  }
  parser.end();
  progress.rows += parser.count;
  await flush();
  parser.reset();
}

/**
 * CSV COPY spooled to segment files that DuckDB loads itself. One segment loads while the next is
 * received: the server, this process and DuckDB's threads work at once, and disk holds two segments.
 */
async function copyCsv(job: Job, task: Task, spool: CsvSpool): Promise<void> {
  const { conn, o, write } = job;
  const { table, progress } = task;
  const load = (segment: CsvSegment) => write(table, () => o.target.loadCsv(table, segment));
  let loading: Promise<void> = Promise.resolve();
  let segment = spool.open();
  try {
    for await (const rows of conn.copyOut(copySql(task, ' (FORMAT csv)'))) {
      progress.bytes += segment.write(rows);
      progress.rows += rows.length;
      if (segment.full) {
        checkGoOn(job);
        await loading;
        loading = load(segment.close());
        // Rejections are awaited above or below; until then this keeps them from going unhandled.
        loading.catch(() => {});
        segment = spool.open();
        o.progress?.update(progress);
      }
    }
    await loading;
    loading = load(segment.close());
    await loading;
  } catch (err) {
    // A load still running must end before the caller rolls back: it writes in that transaction.
    await loading.catch(() => {});
    segment.discard();
    throw err;
  }
}

/** The table's size in pages now (at least its size under the snapshot; see ranges.ts). */
async function relationPages(conn: Connection, t: SourceTable): Promise<number> {
  // By OID when known: no name in a string literal at all.
  const rel =
    t.oid !== undefined && /^\d+$/.test(t.oid)
      ? `${t.oid}::oid::regclass`
      : `${quoteLiteral(qualified(t.schema, t.table))}::regclass`;
  const [r] = await conn.query(`SELECT pg_relation_size(${rel}) / current_setting('block_size')::int`);
  return Number(r?.rows[0]?.[0] ?? 0);
}
