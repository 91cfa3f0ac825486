// One session's way from its connection to its stream: connect (the first session takes the
// connection and early stream the run's start opened, start.ts), run the preflight, whose start
// decision (resume, copy, snapshot) keeps the early stream only to resume exactly where it started,
// then stream on it or give it up and send START_REPLICATION. Apart from replicate.ts so that the
// run's loop reads as the loop; what it does between these steps (the decoder, the lost-change
// watch) is the loop's.

import {
  type Connection,
  ConnectionError,
  type ConnectionSettings,
  DEFAULT_PIECE_BYTES,
  PgServerError,
  type ReplicationStream,
} from '../protocol/index.js';
import { firstLine } from '../sink/apply-error.js';
import { wal2jsonOptions } from '../wal2json/index.js';
import type { EarlyStart } from './early-start.js';
import { type Prepared, prepare } from './preflight.js';
import type { ReplicateOptions } from './replicate-options.js';
import { liveness, type Opened, walSenderTimeoutMs } from './start.js';

/** How long a reconnect's preflight (no snapshot: a few queries) may take before the link counts as dead. */
const RECONNECT_SETUP_MS = 30_000;

/** The stream's status interval and receive timeout. */
export type Live = { feedbackIntervalMs: number; receiveTimeoutMs: number };

/** A session's connection and early stream from its connect until it ends (close). */
export class SessionStart {
  /** The session's connection: undefined until connected (a stop or failure before then). */
  conn: Connection | undefined;
  /** The early stream the first session took, if any; closed with the session unless streamed on. */
  private started: EarlyStart | undefined;

  constructor(
    private readonly o: ReplicateOptions,
    private readonly connectSource: (signal?: AbortSignal) => Promise<Connection>,
  ) {}

  /** Connects: on the start's first connection (with its early stream) if not yet taken, else anew. */
  async connect(opened: Opened): Promise<void> {
    const connecting = opened.firstConnection ?? this.connectSource(this.o.signal);
    opened.firstConnection = undefined;
    this.started = await opened.early;
    opened.early = undefined;
    this.conn = await connecting.catch(async (err: unknown) => {
      // One walsender more than the server allows (max_wal_senders): the early stream took the
      // last one. Give it up, and prepare and stream on one connection, as without it.
      if (!this.started || !(err instanceof PgServerError && err.sqlstate === '53300')) throw err;
      this.o.log(`no early start: ${firstLine(err)}`);
      await this.started.conn.close().catch(() => {});
      this.started = undefined;
      return await this.connectSource(this.o.signal);
    });
  }

  /** The preflight (preflight.ts): `again` is the run's first session's, for a reconnect. */
  async prepare(
    duck: Opened['duck'],
    settings: ConnectionSettings,
    again: Prepared | undefined,
  ): Promise<Prepared> {
    const o = this.o;
    const session = this.connected();
    const preparing = prepare(
      session,
      duck,
      settings,
      {
        duckdb: o.duckdb ?? '',
        sink: o.sink,
        tables: o.tables,
        slot: o.slot,
        batchChanges: o.batchChanges,
        batchMs: o.batchMs,
        duckdbMemoryLimit: o.duckdbMemoryLimit,
        numeric: o.numeric,
        onDropColumn: o.onDropColumn,
        onTypeChange: o.onTypeChange,
        dropRemoved: o.dropRemoved,
        snapshot: o.snapshot,
        snapshotJobs: o.snapshotJobs,
        snapshotProgress: o.snapshotProgress,
        signal: o.signal,
        log: o.log,
        sinkLog: o.logs?.sink,
        warn: o.warn,
        takeover: o.takeover,
        early: this.started && {
          slot: this.started.slot,
          from: this.started.from,
          abandon: async () => void (await this.started?.conn.close()),
        },
      },
      again,
    );
    // A reconnect's preflight is a few quick queries: on a half-open link they would wait forever
    // (the receive timeout guards the stream only). The first one may snapshot for hours: no bound.
    return again === undefined
      ? await preparing
      : await within(preparing, RECONNECT_SETUP_MS, () => void session.close().catch(() => {}));
  }

  /** The stream's timers: the early stream's when the session streams on it, else from the server's. */
  async live(p: Prepared): Promise<Live> {
    const onEarly = p.startedEarly === true ? this.started : undefined;
    return onEarly?.live ?? liveness(await walSenderTimeoutMs(this.connected()), this.o.statusIntervalMs);
  }

  /** The session's stream: the early one when the preflight kept it, else START_REPLICATION now. */
  async stream(p: Prepared, live: Live): Promise<ReplicationStream> {
    const o = this.o;
    const conn = this.connected();
    const onEarly = p.startedEarly === true ? this.started : undefined;
    const stream =
      onEarly?.stream ??
      (await conn.startReplication({
        slot: p.slot,
        startLsn: p.startLsn,
        options: wal2jsonOptions({
          formatVersion: o.formatVersion,
          ...(p.filter ? { tables: p.filter } : {}),
          ...(o.formatVersion === 1 ? { writeInChunks: o.writeInChunks } : {}),
        }),
        feedbackIntervalMs: live.feedbackIntervalMs,
        receiveTimeoutMs: live.receiveTimeoutMs,
        // A long message (a whole-transaction v1 document) is decoded as it arrives, never assembled.
        pieceBytes: DEFAULT_PIECE_BYTES,
        ...(o.socketBufferBytes !== undefined ? { maxBufferedBytes: o.socketBufferBytes } : {}),
      }));
    if (onEarly) {
      // The session streams on the early connection; the preflight's has done its work.
      await conn.close().catch(() => {});
      this.conn = onEarly.conn;
    }
    return stream;
  }

  /** Closes the session's connection, and the early stream's unless the session streamed on it. */
  async close(): Promise<void> {
    await this.conn?.close().catch(() => {});
    if (this.started && this.started.conn !== this.conn) await this.started.conn.close().catch(() => {});
  }

  private connected(): Connection {
    if (this.conn === undefined) throw new Error('the session is not connected yet');
    return this.conn;
  }
}

/** `p`, or a transient failure after `ms` (calling `onTimeout` first, to free what `p` waits on). */
async function within<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(
        new ConnectionError(
          'WALDUCK_RECEIVE_TIMEOUT',
          'command',
          `no answer from the server within ${ms} ms while preparing to stream again (a half-open connection?)`,
        ),
      );
    }, ms);
  });
  p.catch(() => {});
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
