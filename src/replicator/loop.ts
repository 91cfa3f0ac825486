// The replication loop: stream -> decode -> apply -> commit -> acknowledge, until a stop. It knows no
// connection string, no catalog and no DuckDB file: it is handed a started stream, a decoder, a
// ChangeSink and a clock, so it runs the same against a real server and against a scripted one.
//
// The one rule everything here serves: the server hears that an LSN is flushed only after the sink
// committed it (ChangeSink.commit returns it; only that is acknowledged). Feedback leaves at once
// after each commit that moves the flushed position (as pg_recvlogical does after a flush), so the
// slot releases WAL as soon as DuckDB holds it; the stream's interval timer keeps the link alive
// between commits.

import type { Lsn } from '../protocol/lsn.js';
import type { ReplicationStream } from '../protocol/replication/stream.js';
import type { ChangeSink } from '../sink/sink.js';
import type { Wal2JsonDecoder } from '../wal2json/decoder.js';
import { ReplicateError } from './errors.js';
import type { Latency } from './latency.js';
import { MessagePump } from './pump.js';
import { Wake } from './wake.js';

/** Milliseconds since the epoch (latency compares it with the source's commit timestamps). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type StopAt =
  | { readonly kind: 'never' }
  | { readonly kind: 'endpos'; readonly lsn: Lsn }
  | { readonly kind: 'caught-up' };

/** Running figures, kept across sessions (a reconnect continues them); progress and metrics read them. */
export interface LoopFigures {
  /**
   * Row changes applied and committed (insert, update, delete): with a sink that says which it took
   * (ChangeSink.rowChanges), those only, so a DuckDB file's count leaves out the tables not followed.
   */
  changes: number;
  transactions: number;
  /** Plugin payload bytes received. */
  bytes: number;
  /** Highest position received from the server. */
  received: Lsn;
  /** The LSN durably stored with the data (and acknowledged). */
  applied: Lsn;
  /** The server's WAL end as last reported. */
  serverEnd: Lsn;
  /** Clock time of the last sink commit that moved `applied`, and of that commit on the source. */
  lastCommitAt: number | undefined;
  lastSourceCommitAt: number | undefined;
}

export function newFigures(start: Lsn): LoopFigures {
  return {
    changes: 0,
    transactions: 0,
    bytes: 0,
    received: start,
    applied: start,
    serverEnd: start,
    lastCommitAt: undefined,
    lastSourceCommitAt: undefined,
  };
}

export interface LoopInput {
  readonly stream: ReplicationStream;
  readonly decoder: Wal2JsonDecoder;
  readonly sink: ChangeSink;
  readonly clock: Clock;
  readonly stopAt: StopAt;
  /** With stopAt caught-up: the server's WAL position when walduck started. */
  readonly caughtUpAt?: Lsn;
  /** Longest a complete batch waits for its commit while the stream is quiet (--batch-ms). */
  readonly batchMs: number;
  readonly figures: LoopFigures;
  readonly latency: Latency;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((f: LoopFigures) => void) | undefined;
  /** Source commit timestamp text -> ms since the epoch. */
  readonly parseTime?: (text: string) => number | undefined;
  /** Work that a stop target waits for (an online copy in progress): not reached while true. */
  readonly holdOpen?: () => boolean;
  /** Throws when nothing may be committed from now on (a change the server dropped, lost-change.ts). */
  readonly beforeCommit?: () => void;
}

export type LoopEnd = 'endpos' | 'caught-up' | 'signal';

/** With a stop target, how long a quiet stream waits before asking the server where its WAL ends. */
const PING_MS = 200;
/** Without one, how often a quiet stream wakes to commit what is complete. */
const IDLE_MS = 1000;

/**
 * Runs until the stop target, the signal, or a failure. On a stop, what is complete is committed and
 * a half-received source transaction is rolled back; the stream is stopped cleanly. On a failure the
 * sink is rolled back (nothing uncommitted survives) and the error is thrown; the stream is left to
 * the caller.
 */
export async function runLoop(i: LoopInput): Promise<LoopEnd> {
  const { stream, decoder, sink, clock, figures, latency } = i;
  const target =
    i.stopAt.kind === 'endpos' ? i.stopAt.lsn : i.stopAt.kind === 'caught-up' ? i.caughtUpAt : undefined;
  const endpos = i.stopAt.kind === 'endpos' ? i.stopAt.lsn : undefined;
  const reachedAs: LoopEnd = i.stopAt.kind === 'endpos' ? 'endpos' : 'caught-up';
  let beginTime: string | undefined;
  let pendingSourceTime: string | undefined;
  // Counted when the sink commits them: a batch rolled back (and replayed after a reconnect) is not
  // counted twice. A sink that counts the row changes it takes (rowChanges: DuckDbSink's leave out the
  // tables it does not follow, and those the decoder dropped unread never reach it) is read at each
  // commit; for any other sink each decoded row change counts.
  let pendingChanges = 0;
  let pendingTransactions = 0;
  let rowsAtCommit = sink.rowChanges;

  const ack = (lsn: Lsn | undefined): void => {
    if (lsn === undefined) return;
    if (rowsAtCommit !== undefined) {
      const rows = sink.rowChanges ?? rowsAtCommit;
      pendingChanges = rows - rowsAtCommit;
      rowsAtCommit = rows;
    }
    figures.changes += pendingChanges;
    figures.transactions += pendingTransactions;
    pendingChanges = 0;
    pendingTransactions = 0;
    const now = clock.now();
    latency.committed(now);
    figures.applied = lsn;
    figures.lastCommitAt = now;
    if (pendingSourceTime !== undefined) {
      figures.lastSourceCommitAt = i.parseTime?.(pendingSourceTime) ?? figures.lastSourceCommitAt;
      pendingSourceTime = undefined;
    }
    stream.acknowledge(lsn);
    stream.sendFeedback();
  };
  const commit = (): Promise<Lsn | undefined> => {
    i.beforeCommit?.();
    return sink.commit();
  };
  const reached = () =>
    target !== undefined && sink.storedLsn >= target && !sink.hasUncommitted && !i.holdOpen?.();

  const wake = new Wake(Math.min(i.batchMs, target !== undefined ? PING_MS : IDLE_MS), i.signal);
  const pump = new MessagePump(stream, wake);
  // A timer tick while the stream is quiet: commit a batch that has waited --batch-ms, and with a stop
  // target ask the server how far its WAL goes (a status update with replyRequested: the keepalive it
  // answers with carries its WAL end, which lets an idle replica advance to the target).
  // A due batch that commit() left open is held (a rename made while walduck was stopped, whose owner is
  // settled only once the stream passes a position): ask for the keepalive that says how far it went,
  // rather than wait for the server's own, which may be half its wal_sender_timeout away.
  const onTick = async () => {
    if (sink.due || (await sink.quiet?.())) ack(await commit());
    const held = sink.due && sink.hasUncommitted;
    if ((target !== undefined && !sink.hasUncommitted) || held) stream.requestKeepalive();
  };
  let stoppedBy: LoopEnd | undefined = reached() ? reachedAs : undefined;
  try {
    while (!stoppedBy) {
      const m = await pump.next(onTick);
      if (m === 'abort') {
        stoppedBy = 'signal';
        break;
      }
      if (m === 'end')
        throw new ReplicateError('stream', 'WALDUCK_STREAM_ENDED', 'the server ended the replication stream');
      if (m.walEnd > figures.serverEnd) figures.serverEnd = m.walEnd;
      if (m.type === 'XLogData') {
        if (endpos !== undefined && m.dataStart > endpos) {
          stoppedBy = 'endpos';
          break;
        }
        figures.bytes += m.data.length;
        // A long message arrives in pieces (more: true on all but the last), each decoded as it comes.
        for (const change of decoder.decode(m.data, m.dataStart, m.more === true)) {
          if (i.signal?.aborted) {
            // Leaving the decoder mid-message is final: the next message would start mid-document.
            stoppedBy = 'signal';
            break;
          }
          // --endpos takes whole transactions ending at or before it. A v1 document arrives stamped
          // with its transaction's start, so decide on the end LSN the begin (or commit) carries.
          const ends =
            change.kind === 'begin' ? (change.endLsn ?? 0n) : change.kind === 'commit' ? change.lsn : 0n;
          if (endpos !== undefined && ends > endpos) {
            stoppedBy = 'endpos';
            break;
          }
          const applying = sink.apply(change);
          if (applying) await applying;
          // v1 documents carry the commit time in their header (begin), v2 on the commit line too.
          if (change.kind === 'begin') beginTime = change.commitTime;
          else if (change.kind === 'commit') {
            pendingTransactions++;
            const t = change.commitTime ?? beginTime;
            latency.seen(t);
            if (t !== undefined) pendingSourceTime = t;
          } else if (change.kind === 'insert' || change.kind === 'update' || change.kind === 'delete')
            pendingChanges++;
          if (change.kind === 'commit' && (sink.due || (target !== undefined && change.lsn >= target))) {
            ack(await commit());
          }
        }
      } else if (!sink.inSourceTransaction) {
        sink.streamPassed?.(m.walEnd);
        if (sink.hasUncommitted) ack(await commit());
        // Nothing pending: everything up to walEnd is decoded and none of it is ours to apply.
        const idleTo = target !== undefined && m.walEnd > target ? target : m.walEnd;
        i.beforeCommit?.();
        if (await sink.advanceIdle(idleTo)) ack(sink.storedLsn);
      }
      const pos = stream.lastReceived;
      if (pos > figures.received) figures.received = pos;
      i.onProgress?.(figures);
      if (reached()) stoppedBy = reachedAs;
    }
    // A source transaction cut in half (signal, endpos inside it) is dropped; complete ones commit.
    if (sink.inSourceTransaction) {
      await sink.rollback();
      latency.dropped();
    } else ack(await commit());
    stream.sendFeedback();
    await stream.stop();
  } catch (err) {
    await sink.rollback().catch(() => {});
    latency.dropped();
    throw err;
  } finally {
    wake.close();
  }
  return stoppedBy;
}
