// The copier of an online copy: reads one table in key chunks on an ordinary connection while the
// replication stream keeps running, each chunk's SELECT between a low and a high watermark in WAL. The
// merge with the stream, the ordering argument and the exactly-once record are in
// sink/watermark-merge.ts; here only the order of the three statements matters:
//
//   1. pg_logical_emit_message(true, …low…) in its own transaction: committed (so ordered in the stream
//      by its commit) before the next statement starts;
//   2. the chunk SELECT, in its own statement (its own snapshot, taken after 1 committed);
//   3. pg_logical_emit_message(true, …high…), after the SELECT returned (so committed after its snapshot).
//
// Transactional messages, not the non-transactional kind DBLog's description suggests: PostgreSQL 15
// writes a non-transactional message to WAL without flushing it, and a walsender sends only flushed
// WAL, so each watermark would wait for the WAL writer (wal_writer_delay, 200 ms) on a quiet server
// (measured: 25 s for 29 chunks). A transactional one is flushed by its commit. The ordering argument
// is the same, with "its commit" for "its position", and the high watermark's commit LSN is what the
// DuckDB transaction writing the chunk records.
//
// and that the rows are handed to the merge before 3 is sent (the stream cannot see the high mark
// before it is in WAL). The copier then waits until the stream reached the high watermark; a chunk lost
// to a rollback (a reconnect) is read again under a new attempt id.
//
// Never waiting for ever (the stream keeps going, so a stuck copier would be silent: "copying" for
// good): every statement of the copy is bounded by `stallMs` (the replication link's receive timeout).
// A statement past it is looked at from a second connection: a backend still running it (a long
// SELECT, a lock wait) is waited on, with a debug line each time (and, for a lock, one warning per
// chunk attempt, naming the backends holding it); an idle or vanished one means the
// link stalled, and the connection is closed. A failed or stalled chunk is read again under a new
// attempt id on a new connection, up to MAX_RETRIES times in a row with a backoff; then the copy fails,
// which ends the session like a cut replication link (retried by the replicator, then one line). Every
// other wait is on the stream: the high watermark's arrival, or the next commit or rollback.
//
// Memory: one chunk's rows, between its SELECT and its high watermark. A chunk is at most `chunkRows`
// rows, and its row count halves while a chunk's text exceeds `chunkBytes` (and grows back up to
// `chunkRows` while chunks are small). The first chunk reads FIRST_CHUNK_ROWS: the rows' size is not
// known before, and a first chunk of 20000 rows of 20 kB texts held 200 MB of strings in the JS heap
// (peak RSS 474 MB, beside 185 MB without the copy).

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { ConnectionError, type ConnectionSettings, type LogFn, PgServerError } from '../protocol/index.js';
import { firstLine } from '../sink/apply-error.js';
import type { OnlineCopyTarget } from '../sink/duckdb-sink.js';
import { copyPrefix, formatWatermark } from '../sink/watermark.js';
import type { Rows } from '../source/catalog.js';
import { keyOrder } from '../source/key-order.js';
import { qualified, quoteIdent, quoteLiteral } from '../source/quote.js';
import { shownName } from '../wal2json/shown-name.js';
import { Backoff, failureCode, isTransient } from './retry.js';
import { type SideQuery, sideQuery } from './side-query.js';

export interface OnlineCopyOptions {
  readonly settings: ConnectionSettings;
  readonly slot: string;
  readonly chunkRows: number;
  readonly chunkBytes: number;
  readonly log: LogFn;
  /** Always on stderr: a chunk waiting on a lock past the stall bound (once per chunk attempt). */
  readonly warn?: LogFn;
  /** Bound on one statement of the copy without sign of work on the server (default STALL_MS). */
  readonly stallMs?: number;
}

export const STALL_MS = 60_000;
/** Chunks failing in a row (a stall, a cut) before the copy gives up and fails the session. */
export const MAX_RETRIES = 5;
const CONNECT_MS = 10_000;
export const DEFAULT_CHUNK_ROWS = 20_000;
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;
/** The first chunk's rows, doubled per chunk up to chunkRows while chunks stay small. */
const FIRST_CHUNK_ROWS = 1000;

/** The copies of one session: each runs until its last chunk is committed, the session ends, or it fails. */
export class OnlineCopies {
  private running = 0;
  /** The first failure: the session stops with it (never a copy silently left behind). */
  failure: unknown;
  /** A copy wrote a chunk this session: it is not stuck, whatever failed afterwards. */
  progressed = false;
  private readonly abort = new AbortController();
  private readonly all: Promise<void>[] = [];

  constructor(
    targets: readonly OnlineCopyTarget[],
    private readonly o: OnlineCopyOptions,
    private readonly onFailure: () => void,
  ) {
    // Every copy of the session listens on this signal (twice), and as many copies run as tables
    // joined: past 10, Node printed a MaxListenersExceededWarning on stderr, a second line there.
    setMaxListeners(0, this.abort.signal);
    for (const t of targets) this.add(t);
  }

  /** One more copy in this session (a re-copy decided while streaming, once its decision committed). */
  add(target: OnlineCopyTarget): void {
    this.running++;
    this.all.push(
      (async () => {
        try {
          await copyTable(target, this.o, this.abort.signal, () => {
            this.progressed = true;
          });
        } catch (err) {
          this.failure ??= err;
          this.onFailure();
        } finally {
          this.running--;
        }
      })(),
    );
  }

  /** A copy still runs: --until-caught-up waits for it. */
  get active(): boolean {
    return this.running > 0 && this.failure === undefined;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.all);
  }
}

async function copyTable(
  target: OnlineCopyTarget,
  o: OnlineCopyOptions,
  signal: AbortSignal,
  onChunk: () => void,
): Promise<void> {
  const { source, merge } = target;
  const order = keyOrder(source);
  const name = shownName(source);
  let onStopped = () => {};
  const stopped = new Promise<false>((resolve) => {
    onStopped = () => resolve(false);
    if (signal.aborted) resolve(false);
    signal.addEventListener('abort', onStopped, { once: true });
  });
  const stallMs = o.stallMs ?? STALL_MS;
  let lockWarned = false;
  // Looks at the copy's backend when a statement passed stallMs (bounded itself, closed on a stall).
  const probe = sideQuery(o.settings, { log: o.log, timeoutMs: stallMs, connectTimeoutMs: CONNECT_MS });
  const conn = sideQuery(o.settings, {
    log: o.log,
    timeoutMs: stallMs,
    connectTimeoutMs: CONNECT_MS,
    busy: async (pid) => {
      const look = await working(probe, pid, `online copy of ${name}`, stallMs, o.log);
      // Only a debug line otherwise: a table left "copying" behind someone's lock for hours would show
      // no reason without DEBUG. Once per chunk attempt: the look repeats every stallMs.
      if (look.lock !== undefined && !lockWarned) {
        lockWarned = true;
        o.warn?.(
          `online copy of ${name}: a chunk has waited over ${stallMs} ms for a lock (backend ${pid}, ${look.lock}); the copy goes on once it is granted`,
        );
      }
      return look.busy;
    },
    // As the snapshot copy does: a role's timeouts must not kill a long copy, and a copy filtered by a
    // row security policy would silently be partial (with it off, PostgreSQL refuses instead). A
    // watermark commit need not wait for a synchronous standby (a walsender sends WAL flushed here):
    // one that is down would hold every chunk.
    init: 'SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET row_security = off; SET synchronous_commit = local',
  });
  // A stop closes the connection: a statement waiting on the server (a lock) must not hold the stop.
  const onStop = () => void conn.close().catch(() => {});
  signal.addEventListener('abort', onStop, { once: true });
  try {
    const run = randomUUID().slice(0, 8);
    const cols = merge.columns.map(quoteIdent).join(', ');
    // Through the root of a partitioned table: every partition's rows, in one key order.
    const from = qualified(source.schema, source.table);
    const prefix = copyPrefix(o.slot);
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
    let failures = 0;
    let attempt = 0;
    let rows = Math.min(o.chunkRows, FIRST_CHUNK_ROWS);
    while (!signal.aborted && !merge.committed.done && !merge.retired) {
      if (merge.progress.done) {
        // The last chunk is written: wait for its commit (a rollback takes the copy back a chunk).
        await Promise.race([merge.settled(), stopped]);
        continue;
      }
      const id = `${run}:${attempt++}`;
      lockWarned = false;
      const mark = (m: 'low' | 'high') =>
        emit(conn, prefix, formatWatermark({ schema: source.schema, table: source.table, id, mark: m }));
      const written = merge.expect(id);
      let got: Rows;
      const t0 = performance.now();
      try {
        await mark('low');
        o.log(`online copy of ${name}: low watermark ${id}`);
        const p = merge.progress;
        const where = p.key ? ` WHERE ${order.after(p.key, p.inclusive)}` : '';
        got = await conn.query(`SELECT ${cols} FROM ${from}${where} ORDER BY ${order.orderBy} LIMIT ${rows}`);
        merge.rows(id, got, got.length === rows);
        await mark('high');
      } catch (err) {
        if (signal.aborted || merge.retired) return;
        failures++;
        if (!isTransient(err) && !changedUnder(err)) throw err;
        if (failures > MAX_RETRIES)
          throw givenUp(err, `online copy of ${name}: ${failures} chunk attempts in a row failed`);
        // The next expect() drops this attempt: its watermarks, if they reached WAL, are ignored.
        const wait = backoff.next();
        o.log(
          `online copy of ${name}: chunk ${id} failed (${failureCode(err)}: ${firstLine(err)}); reading it again on a new connection in ${wait} ms (${failures} of ${MAX_RETRIES})`,
        );
        await pause(wait, stopped);
        continue;
      }
      failures = 0;
      backoff.reset();
      const ok = await Promise.race([written, stopped]);
      if (ok) onChunk();
      let bytes = 0;
      for (const row of got) for (const v of row) bytes += v === null ? 0 : v.length;
      o.log(
        `online copy of ${name}: chunk of ${got.length} row(s), ${bytes} chars read in ${(performance.now() - t0).toFixed(1)} ms${ok ? '' : ' (not written: read again)'}`,
      );
      if (bytes > o.chunkBytes && rows > 1) rows = Math.max(1, Math.floor(rows / 2));
      else if (bytes * 4 < o.chunkBytes && rows < o.chunkRows) rows = Math.min(o.chunkRows, rows * 2);
    }
  } finally {
    // Both: a session's re-copies (a partition attached, detached) would otherwise pile up listeners.
    signal.removeEventListener('abort', onStop);
    signal.removeEventListener('abort', onStopped);
    await conn.close().catch(() => {});
    await probe.close().catch(() => {});
  }
}

/**
 * Whether the copy's backend `pid` is still working on its statement (then the copier waits on): active
 * and not stuck writing its reply to a link that takes nothing. Idle or gone: the reply (or the request)
 * was lost on the way, and only a new connection helps.
 */
async function working(
  probe: SideQuery,
  pid: number,
  what: string,
  ms: number,
  log: LogFn,
): Promise<{ busy: boolean; lock: string | undefined }> {
  const [row] = await probe.query(
    `SELECT state, wait_event_type, wait_event, array_to_string(pg_blocking_pids(pid), ', ') FROM pg_stat_activity WHERE pid = ${Number(pid)}`,
  );
  const [state, type, event, blockers] = row ?? [];
  const busy = state === 'active' && event !== 'ClientWrite';
  const lock =
    busy && type === 'Lock'
      ? `waiting for Lock:${event ?? '?'}${blockers ? `, held by backend ${blockers}` : ''}`
      : undefined;
  const seen = row ? `${state ?? '?'}${type ? `, waiting for ${type}:${event ?? '?'}` : ''}` : 'gone';
  log(
    `${what}: a statement has not answered for ${ms} ms (backend ${pid} ${seen}): ${busy ? 'waiting on' : 'the link stalled, closing it'}`,
  );
  return { busy, lock };
}

/**
 * The table or a column the copy reads is gone: dropped (and maybe created again in another shape)
 * while the copy runs. The stream shows the new table's changes in order, and the sink replaces the
 * copy with one of the new shape (retiring this one); until then the chunk is read again, as after a
 * cut, and a table still gone after MAX_RETRIES fails the copy with the server's line.
 */
function changedUnder(err: unknown): boolean {
  return err instanceof PgServerError && (err.sqlstate === '42703' || err.sqlstate === '42P01');
}

function pause(ms: number, stopped: Promise<false>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), stopped]).finally(() =>
    clearTimeout(timer),
  );
}

/** The last failure, named as the copy's (the session's retry warns with it), still transient. */
function givenUp(err: unknown, what: string): unknown {
  if (!(err instanceof ConnectionError)) return err;
  return new ConnectionError(err.code, err.phase, `${what}, the last: ${firstLine(err)}`, { cause: err });
}

async function emit(conn: SideQuery, prefix: string, content: string): Promise<void> {
  await conn.query(`SELECT pg_logical_emit_message(true, ${quoteLiteral(prefix)}, ${quoteLiteral(content)})`);
}
