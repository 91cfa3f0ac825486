// `walduck replicate`, as a function: open DuckDB and connect (start.ts), then sessions until told to
// stop, reconnecting after a transient failure. Each session connects, runs the preflight and starts
// its stream (session-start.ts), then runs the replication loop (loop.ts). What is shown while it runs
// is the caller's choice (onProgress, snapshotProgress): the replicator draws nothing itself.

import { connect, parseConnectionString } from '../protocol/index.js';
import { formatLsn } from '../protocol/lsn.js';
import { firstLine } from '../sink/apply-error.js';
import { DuckDbSink } from '../sink/duckdb-sink.js';
import { createDecoder } from '../wal2json/index.js';
import { ReplicateError } from './errors.js';
import { Latency, pgTimestampMs } from './latency.js';
import { type LoopFigures, newFigures, runLoop, systemClock } from './loop.js';
import { LostChanges, NoticeFilter } from './lost-change.js';
import { DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS, OnlineCopies } from './online-copy.js';
import type { Prepared } from './preflight.js';
import type { ReplicateOptions, ReplicateResult } from './replicate-options.js';
import { Backoff, failureCode, isTransient, pause } from './retry.js';
import { SessionStart } from './session-start.js';
import { SlotGuard } from './slot-guard.js';
import { openRun } from './start.js';

export type { StopAt } from './loop.js';
export type {
  ConnectionEvent,
  ReplicateOptions,
  ReplicateResult,
  ReplicateStatus,
  SinkContext,
  SinkFactory,
} from './replicate-options.js';
export { DEFAULT_STATUS_INTERVAL_MS, liveness, parsePgDuration } from './start.js';

/** Without connect_timeout in the conninfo: how long one connection attempt may take. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

export async function replicate(o: ReplicateOptions): Promise<ReplicateResult> {
  const settings = parseConnectionString(o.source, process.env);
  // This session's changes the server dropped (lost-change.ts), fed by its replication connection.
  let lostChanges: LostChanges | undefined;
  // What reaches stderr; the dropped-change warnings that arrive before the first session's
  // LostChanges exists (an early stream's, during the preflight) wait in it and are handed over
  // (release) once it does.
  const notices = new NoticeFilter(o.warn);
  const connectSource = (signal?: AbortSignal) =>
    connect(settings, {
      ...(signal ? { signal } : {}),
      replication: 'database',
      log: o.logs?.protocol ?? o.log,
      ...(o.trace ? { trace: o.trace } : {}),
      onNotice: (n) => {
        // Whether it is a dropped change of a followed table: unknown before the session's tables are.
        notices.say(n.severity, n.message, lostChanges?.notice(n.message));
      },
      ...(settings.connectTimeoutMs === undefined ? { connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS } : {}),
    });
  const opened = await openRun(o, connectSource);
  const { instance, duck } = opened;
  const latency = new Latency();
  const backoff = new Backoff(o.random ? { random: o.random } : {});
  const retryForMs = o.retryForMs ?? (o.stopAt.kind === 'never' ? Number.POSITIVE_INFINITY : 30_000);
  let prepared: Prepared | undefined;
  let figures: LoopFigures | undefined;
  let failingSince: number | undefined;
  // Since when online copies have given up without writing a chunk in between. A session whose copy
  // gives up has streamed (the copy's own watermarks are progress), which starts --retry-for's window
  // afresh: without this a copy that can never read a chunk was retried for ever, also with
  // --until-caught-up, instead of stopping with its line.
  let copyFailingSince: number | undefined;
  let guard: SlotGuard | undefined;
  /** The result of a stop asked for between sessions (while waiting to reconnect, or snapshotting). */
  const stopped = (): ReplicateResult => {
    const f = figures ?? newFigures(0n);
    return {
      changes: f.changes,
      transactions: f.transactions,
      bytes: f.bytes,
      received: f.received,
      applied: prepared?.sink.storedLsn ?? 0n,
      serverEnd: f.serverEnd,
      slot: prepared?.slot ?? o.slot ?? '',
      startedAt: prepared?.startLsn ?? 0n,
      stoppedBy: 'signal',
      latency: latency.summary(),
      unmatched: prepared?.sink instanceof DuckDbSink ? prepared.sink.stats.unmatched : 0,
    };
  };
  try {
    for (;;) {
      const start = new SessionStart(o, connectSource);
      let streamed = false;
      let copyStuck = false;
      try {
        await start.connect(opened);
        const first = prepared === undefined;
        const p = await start.prepare(duck, settings, prepared);
        // The first session's system and caught-up target hold for the whole run.
        prepared ??= p;
        figures ??= newFigures(p.startLsn);
        const guardMs = o.slotGuardMs ?? 30_000;
        if (!guard && guardMs > 0) {
          guard = new SlotGuard({
            settings,
            slot: p.slot,
            everyMs: guardMs,
            warn: o.warn,
            notice: o.notice ?? o.log,
            log: o.log,
            ...(o.onSlot ? { report: o.onSlot } : {}),
          });
        }
        if (first && o.formatVersion === 1) {
          o.warn(
            'wal2json format-version 1 does not report TRUNCATE (wal2json 2.5 emits nothing for it): a truncated source table will keep its rows in DuckDB; use --format-version 2 if tables are truncated',
          );
        }
        const live = await start.live(p);
        // Into DuckDB every table's changes arrive (no add-tables, see table-routing.ts): a row change
        // of a table the router already found not ours is dropped by the decoder unread, asked change
        // by change (the generator runs in step with the sink, so the answer is the router's now). A
        // caller's own sink filters for itself: it gets every change.
        const router = p.sink instanceof DuckDbSink ? p.routing.router : undefined;
        const decoder = createDecoder({
          formatVersion: o.formatVersion,
          log: o.logs?.wal2json ?? o.log,
          ...(router ? { skip: (schema: string, table: string) => router.ignores(schema, table) } : {}),
        });
        // Before START_REPLICATION: its answer and the first changes (a warning among them) may come in
        // one read, decoded at once.
        const sinkNow = p.sink instanceof DuckDbSink ? p.sink : undefined;
        lostChanges =
          router && sinkNow
            ? new LostChanges({
                owner: (schema, table) => router.owner(schema, table),
                copyingFresh: (ref) =>
                  sinkNow
                    .onlineCopies()
                    .some(
                      (c) => c.merge.fresh && c.source.schema === ref.schema && c.source.table === ref.table,
                    ),
              })
            : undefined;
        notices.release((message) => lostChanges?.notice(message));
        const stream = await start.stream(p, live);
        o.log(
          `streaming from slot ${p.slot} at ${formatLsn(p.startLsn)} (status every ${live.feedbackIntervalMs} ms, receive timeout ${live.receiveTimeoutMs} ms)`,
        );
        o.onConnection?.({ kind: 'connected' });
        const f = figures;
        // Online copies run beside the loop for this session; a failed copy stops the session.
        const stopForCopy = new AbortController();
        // Also for a re-copy decided while streaming (a partition attached with rows, detached):
        // the sink starts its copier once the decision is committed.
        const duckSink = p.sink instanceof DuckDbSink ? p.sink : undefined;
        const copies = duckSink
          ? new OnlineCopies(
              duckSink.onlineCopies(),
              {
                settings,
                slot: p.slot,
                chunkRows: o.copyChunkRows ?? DEFAULT_CHUNK_ROWS,
                chunkBytes: o.copyChunkBytes ?? DEFAULT_CHUNK_BYTES,
                log: o.logs?.sink ?? o.log,
                warn: o.warn,
                // A copy statement stalls no longer than the stream may stay silent.
                stallMs: live.receiveTimeoutMs,
              },
              () => stopForCopy.abort(),
            )
          : undefined;
        if (duckSink && copies) duckSink.onCopyStart = (t) => copies.add(t);
        const signal = o.signal ? AbortSignal.any([o.signal, stopForCopy.signal]) : stopForCopy.signal;
        const stoppedBy = await runLoop({
          stream,
          decoder,
          sink: p.sink,
          clock: systemClock,
          stopAt: o.stopAt,
          caughtUpAt: prepared.system.xlogPos,
          batchMs: o.batchMs,
          figures: f,
          latency,
          signal,
          // A copy recorded but whose copier has not started yet holds the run open too.
          holdOpen: () => (copies?.active ?? false) || (duckSink?.onlineCopies().length ?? 0) > 0,
          onProgress: (x) => {
            // A session that streamed is a success: the next failure starts the backoff afresh.
            if (!streamed) {
              streamed = true;
              backoff.reset();
              failingSince = undefined;
            }
            o.onProgress?.(x);
          },
          parseTime: pgTimestampMs,
          beforeCommit: () => lostChanges?.check(),
        }).finally(() => {
          if (duckSink) duckSink.onCopyStart = undefined;
          if (decoder.skipped > 0)
            o.log(`${decoder.skipped} row changes of tables not followed were dropped unread this session`);
          // Here, not after the loop: a session cut after its copy wrote chunks ends by throwing, and
          // its progress must still restart the give-up window.
          if (copies?.progressed) copyFailingSince = undefined;
          return copies?.stop();
        });
        if (copies?.failure !== undefined) {
          copyStuck = !copies.progressed;
          throw copies.failure;
        }
        // Stopped by a signal after the server said a followed table lost a change, before the loop
        // reached that transaction: nothing of it was committed, but the stop must say so as the
        // commit would have (it exited 0, and the next start stopped).
        if (stoppedBy === 'signal') lostChanges?.check();
        return {
          changes: f.changes,
          transactions: f.transactions,
          bytes: f.bytes,
          received: f.received,
          applied: p.sink.storedLsn,
          serverEnd: f.serverEnd,
          slot: p.slot,
          startedAt: prepared.startLsn,
          stoppedBy,
          latency: latency.summary(),
          unmatched: p.sink instanceof DuckDbSink ? p.sink.stats.unmatched : 0,
        };
      } catch (err) {
        // A lost link wrapped by the step it broke (a row's apply awaiting a catalog lookup, a column's
        // fill reading the source) heals by reconnecting, as every lost link does: the loop rolled the
        // batch back and acknowledged nothing past it. It is said, and counted, as the lost link it is
        // (its own line and code), not as the step's failure ("cannot apply a row … [WALDUCK_APPLY]").
        const link = linkFailure(err);
        const transient = link !== undefined;
        const shown = link ?? err;
        const code = failureCode(shown);
        o.onConnection?.({ kind: 'failed', code, transient });
        if (o.signal?.aborted && hasCode(err, 'WALDUCK_SNAPSHOT_INTERRUPTED')) {
          // A stop asked for, not a failure: the snapshot commits whole or not at all, and the slot it
          // created is dropped, so the next start copies again from scratch.
          (o.notice ?? o.warn)(
            'stopped during the initial snapshot: nothing of it was kept; the next start copies again',
          );
          return stopped();
        }
        // Stopped before this session streamed (connecting, or its setup): nothing of it was applied.
        if (o.signal?.aborted && start.conn === undefined) return stopped();
        // A link that failed once the stop was asked (a side connection torn down under a catalog
        // lookup the sink awaited, or cut at that moment): the loop rolled the open transaction back and
        // acknowledged nothing past the last commit, so this is the stop, not a failure (it exited 1).
        if (o.signal?.aborted && transient) return stopped();
        if (!transient || o.signal?.aborted) throw err;
        const now = performance.now();
        if (copyStuck) failingSince = copyFailingSince ??= failingSince ?? now;
        failingSince ??= now;
        const delay = backoff.next();
        if (now + delay - failingSince > retryForMs) {
          throw new ReplicateError(
            'stream',
            'WALDUCK_RETRY_EXHAUSTED',
            `${firstLine(shown)} (gave up after ${backoff.attempt} attempt(s) in ${Math.round((now - failingSince) / 1000)} s: --retry-for)`,
            { cause: err },
          );
        }
        o.warn(
          `${firstLine(shown)} [${code}]; reconnecting, attempt ${backoff.attempt}, in ${(delay / 1000).toFixed(1)} s`,
        );
        if (await pause(delay, o.signal)) return stopped();
      } finally {
        await start.close();
      }
    }
  } finally {
    // A run that ended before its first session knew its tables still says what the server warned.
    notices.release(() => undefined);
    guard?.close();
    await prepared?.close();
    duck?.closeSync();
    instance?.closeSync();
  }
}

/** The transient failure `err` is, or was caused by (a row's apply error wraps it), else undefined. */
function linkFailure(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (isTransient(e)) return e;
  }
  return undefined;
}

/** Whether `err`, or an error it was caused by, carries `code`. */
function hasCode(err: unknown, code: string): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}
