// The replication stream: after START_REPLICATION, the server sends XLogData and keepalives inside
// CopyData; we send standby status updates back.
//
// Two positions are kept apart, as pg_recvlogical does: what arrived (reported as `write`, informative)
// and what the caller acknowledged as durably applied (reported as `flush` and `apply`). For a logical
// slot the server moves confirmed_flush_lsn to `flush` and will never send those changes again, so
// `flush` is only ever what acknowledge() was given: never a guess, never a keepalive's walEnd, never
// backwards. A caller with nothing in flight may acknowledge a keepalive's walEnd itself.
//
// Feedback goes out every feedbackIntervalMs and at once when a keepalive asks (replyRequested) — on
// arrival, not when the consumer gets to it, so a slow consumer does not get us dropped at
// wal_sender_timeout. While the consumer is slow, queued bytes above maxBufferedBytes pause the socket;
// the interval feedback still goes out, which is what keeps wal_sender_timeout from firing meanwhile.

import { ArgumentError, ConnectionError, inPhase, ProtocolError } from '../errors.js';
import { isPiece, PIECE_FIRST, PIECE_HEAD, PIECE_LAST } from '../frame-decoder.js';
import { type Lsn, MAX_LSN, maxLsn } from '../lsn.js';
import { COMMAND_COMPLETE } from '../messages/backend/command-complete.js';
import { decodeErrorResponse, ERROR_RESPONSE } from '../messages/backend/error-response.js';
import { READY_FOR_QUERY } from '../messages/backend/ready-for-query.js';
import { COPY_DATA } from '../messages/copy-data.js';
import { COPY_DONE } from '../messages/copy-done.js';
import { pgNow } from '../pg-time.js';
import { u32At } from '../reader.js';
import { PgServerError } from '../server-error.js';
import type { Wire } from '../wire.js';
import type { PluginOption } from './commands.js';
import { decodePrimaryKeepalive, PRIMARY_KEEPALIVE, type PrimaryKeepalive } from './primary-keepalive.js';
import { encodeStandbyStatusUpdate } from './standby-status-update.js';
import { decodeStreamMessage, type StreamMessage } from './stream-message.js';
import {
  decodeXLogDataAt,
  decodeXLogDataHeader,
  XLOG_DATA,
  type XLogData,
  type XLogDataHeader,
} from './xlog-data.js';

export interface StartReplicationOptions {
  readonly slot: string;
  readonly startLsn: Lsn;
  /** Output plugin options, e.g. [['format-version', '2'], ['include-xids', '1']]; null: no value. */
  readonly options?: ReadonlyArray<PluginOption>;
  /** Status update interval (default 10 s; keep it well below the server's wal_sender_timeout). */
  readonly feedbackIntervalMs?: number;
  /** Fail if the server sends nothing this long, though asked for a keepalive at half of it. 0/absent: off. */
  readonly receiveTimeoutMs?: number;
  /** Queued-but-unconsumed bytes above which the socket is paused (default 16 MiB). */
  readonly maxBufferedBytes?: number;
  /**
   * XLogData payloads longer than this are handed out in pieces as they arrive (`more` set on all but
   * the last), never assembled: a whole-transaction wal2json document then costs the read budget, not
   * its size. The consumer must accept pieces (the wal2json decoder does). Absent: whole messages.
   */
  readonly pieceBytes?: number;
}

export const DEFAULT_FEEDBACK_INTERVAL_MS = 10_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** A sensible pieceBytes: a message this long is a many-change document, not one change. */
export const DEFAULT_PIECE_BYTES = 1024 * 1024;
/** How long stop() waits in silence for the server's end of the copy (when no receiveTimeoutMs). */
export const DEFAULT_STOP_TIMEOUT_MS = 60_000;

type State = 'streaming' | 'stopping' | 'done' | 'failed';

/** Refuses bad options before START_REPLICATION is sent (afterwards the connection is in copy mode). */
export function checkStartOptions(o: StartReplicationOptions): void {
  if (typeof o.startLsn !== 'bigint' || o.startLsn < 0n || o.startLsn > MAX_LSN) {
    throw new ArgumentError("startLsn must be an LSN (bigint); 0n starts at the slot's confirmed_flush_lsn");
  }
  const positive = (name: string, v: number | undefined, zeroOk: boolean): void => {
    if (v !== undefined && !(Number.isFinite(v) && (v > 0 || (zeroOk && v === 0)))) {
      throw new ArgumentError(
        `${name} must be a positive number of ${name.endsWith('Bytes') ? 'bytes' : 'milliseconds'}`,
      );
    }
  };
  positive('feedbackIntervalMs', o.feedbackIntervalMs, false);
  positive('receiveTimeoutMs', o.receiveTimeoutMs, true);
  positive('maxBufferedBytes', o.maxBufferedBytes, false);
  if (o.pieceBytes !== undefined && !(o.pieceBytes >= PIECE_HEAD)) {
    throw new ArgumentError(`pieceBytes must be at least ${PIECE_HEAD} bytes`);
  }
}

export class ReplicationStream implements AsyncIterable<StreamMessage>, AsyncIterator<StreamMessage> {
  private state: State = 'streaming';
  private failure: Error | undefined;
  /** The highest position that arrived (see onArrive), as its high and low 32 bits. */
  private arrivedHi = 0;
  private arrivedLo = 0;
  private received: Lsn = 0n;
  private acked: Lsn = 0n;
  private readonly timer: NodeJS.Timeout;
  private readonly stopTimeoutMs: number;
  private stopping: Promise<void> | undefined;
  private serverEnded = false;
  /** The header of the XLogData whose pieces are being handed out (undefined between messages). */
  private piece: XLogDataHeader | undefined;

  constructor(
    private readonly wire: Wire,
    o: StartReplicationOptions,
    private readonly onFinished: (usable: boolean) => void,
  ) {
    wire.phase = 'stream';
    wire.setBudget(o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    if (o.pieceBytes !== undefined) wire.setPieceBytes(o.pieceBytes);
    wire.onArrive = (tag, buf, start, end) => this.onArrive(tag, buf, start, end);
    wire.setReceiveTimeout(o.receiveTimeoutMs ?? 0, () => this.sendStatus(true));
    this.stopTimeoutMs = o.receiveTimeoutMs || DEFAULT_STOP_TIMEOUT_MS;
    this.timer = setInterval(() => this.sendFeedback(), o.feedbackIntervalMs ?? DEFAULT_FEEDBACK_INTERVAL_MS);
    this.timer.unref();
  }

  /** Highest walEnd/dataStart among the messages this stream has handed to the consumer. */
  get lastReceived(): Lsn {
    return this.received;
  }

  /** Bytes received but not yet taken by the consumer (what maxBufferedBytes bounds). */
  get bufferedBytes(): number {
    return this.wire.queued;
  }

  /** The flush position we report: the highest LSN acknowledged. */
  get acknowledged(): Lsn {
    return this.acked;
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamMessage> {
    return this;
  }

  /**
   * Runs on arrival, before queueing: track the write position and answer keepalives at once. Every
   * message passes here, so an XLogData's positions are compared as two 32-bit halves each, making no
   * BigInt and no object; decodeTaken() reads the message (and reports a malformed one in stream order).
   */
  private onArrive(tag: number, buf: Buffer, start: number, end: number): void {
    if ((tag !== COPY_DATA && tag !== PIECE_FIRST) || this.state !== 'streaming') return;
    const kind = buf[start];
    if (kind === XLOG_DATA) {
      if (end - start < 25) return;
      this.arrive(buf, start + 1); // dataStart
      this.arrive(buf, start + 9); // walEnd
    } else if (kind === PRIMARY_KEEPALIVE) {
      let keepalive: PrimaryKeepalive;
      try {
        keepalive = decodePrimaryKeepalive(buf.subarray(start, end));
      } catch {
        return;
      }
      this.arrive(buf, start + 1); // walEnd
      if (keepalive.replyRequested) this.sendFeedback();
    }
  }

  /** Raises the arrived position to the big-endian 64-bit LSN at `at` in `buf` if it is higher. */
  private arrive(buf: Buffer, at: number): void {
    const hi = u32At(buf, at);
    const lo = u32At(buf, at + 4);
    if (hi > this.arrivedHi || (hi === this.arrivedHi && lo > this.arrivedLo)) {
      this.arrivedHi = hi;
      this.arrivedLo = lo;
    }
  }

  /** The caller has durably applied everything up to `lsn`: report it as flushed from now on. */
  acknowledge(lsn: Lsn): void {
    // No upper bound against what arrived: wal2json format 1 labels a transaction with its first LSN,
    // and the right thing to acknowledge is its "nextlsn" (the commit's end), which lies beyond.
    if (typeof lsn !== 'bigint' || lsn < 0n || lsn > MAX_LSN) {
      throw new ArgumentError(`acknowledge() takes an LSN as a bigint, got ${String(lsn)}`);
    }
    if (lsn > this.acked) this.acked = lsn;
  }

  /** Sends a standby status update now (no-op once stopping: after CopyDone we may send no CopyData). */
  sendFeedback(): void {
    this.sendStatus(false);
  }

  /**
   * Sends a standby status update that asks for a reply: the server answers with a PrimaryKeepalive
   * carrying its current WAL end, which tells a quiet client how far the server has gone.
   */
  requestKeepalive(): void {
    this.sendStatus(true);
  }

  private sendStatus(replyRequested: boolean): void {
    if (this.state !== 'streaming' || this.wire.failed) return;
    const arrived = (BigInt(this.arrivedHi) << 32n) | BigInt(this.arrivedLo);
    const write = maxLsn(arrived, this.acked);
    const data = encodeStandbyStatusUpdate({
      type: 'StandbyStatusUpdate',
      write,
      flush: this.acked,
      apply: this.acked,
      clientTime: pgNow(),
      replyRequested,
    });
    try {
      this.wire.send({ type: 'CopyData', data });
    } catch {
      // The wire failed; next() reports it.
    }
  }

  /**
   * The next message if one is already queued, else undefined (then await next(), which also reports
   * the end of the stream and errors). Lets a consumer drain what a socket read delivered without a
   * promise per message: at a million small messages that is a real share of the CPU.
   */
  tryNext(): StreamMessage | undefined {
    const wire = this.wire;
    if (this.state !== 'streaming') return undefined;
    const tag = wire.peekTag();
    if ((tag !== COPY_DATA && !isPiece(tag)) || !wire.take()) return undefined;
    return this.decodeTaken();
  }

  /** Decodes the CopyData frame (or piece) just taken from the wire and tracks the received position. */
  private decodeTaken(): StreamMessage {
    const wire = this.wire;
    let m: StreamMessage;
    try {
      // An XLogData is read from the frame's range: one view, of its payload (wire.ts).
      m =
        wire.tag !== COPY_DATA
          ? this.decodePiece()
          : wire.buf[wire.start] === XLOG_DATA
            ? decodeXLogDataAt(wire.buf, wire.start, wire.end)
            : decodeStreamMessage(wire.body);
    } catch (err) {
      throw this.fail(err as Error);
    }
    const pos = m.type === 'XLogData' && m.dataStart > m.walEnd ? m.dataStart : m.walEnd;
    if (pos > this.received) this.received = pos;
    return m;
  }

  /**
   * A piece of a long CopyData (frame-decoder.ts): the first carries the XLogData header (its first
   * PIECE_HEAD bytes are whole), the others only payload; each is handed out with that header.
   * Pieces of one frame arrive back to back: the wire queues frames in order.
   */
  private decodePiece(): XLogData {
    const { tag, body } = this.wire;
    if (tag === PIECE_FIRST) {
      if (body[0] !== XLOG_DATA) {
        throw new ProtocolError(
          'WALDUCK_UNEXPECTED_MESSAGE',
          'stream',
          `a CopyData of more than ${this.wire.pieceBytes} bytes that is not XLogData (0x${(body[0] ?? 0).toString(16)})`,
        );
      }
      const h = decodeXLogDataHeader(body);
      this.piece = h;
      return { type: 'XLogData', ...h, data: body.subarray(25), more: true };
    }
    const h = this.piece;
    if (h === undefined) {
      throw new ProtocolError(
        'WALDUCK_MALFORMED_MESSAGE',
        'stream',
        'a CopyData piece without its first piece',
      );
    }
    const last = tag === PIECE_LAST;
    if (last) this.piece = undefined;
    return { type: 'XLogData', ...h, data: body, more: !last };
  }

  async next(): Promise<IteratorResult<StreamMessage>> {
    const wire = this.wire;
    for (;;) {
      if (this.state !== 'streaming') {
        if (this.state === 'failed') throw this.failure;
        return { done: true, value: undefined };
      }
      if (wire.take()) {
        const tag = wire.tag;
        if (tag === COPY_DATA || isPiece(tag)) return { done: false, value: this.decodeTaken() };
        if (tag === COPY_DONE) {
          // The server ended streaming (e.g. shutdown, or a timeline switch): finish the exchange.
          this.serverEnded = true;
          await this.stop();
          continue;
        }
        if (tag === ERROR_RESPONSE) {
          // After an error the walsender returns to its command loop: the session stays usable.
          throw await this.endWith(
            new PgServerError('stream', decodeErrorResponse(wire.body).fields, {
              serverVersion: wire.parameters.get('server_version'),
              command: 'START_REPLICATION',
            }),
          );
        }
        if (tag === COMMAND_COMPLETE) {
          // The server left copy mode without CopyDone: a walsender does so when it shuts down (server
          // stopping) and when asked to stream a second time. Either way this stream is over.
          throw await this.endWith(
            new ConnectionError(
              'WALDUCK_STREAM_ENDED',
              'stream',
              'the server ended the replication stream (it is shutting down, or this connection already streamed): connect again to resume',
            ),
          );
        }
        throw this.fail(
          new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'stream',
            `unexpected message '${String.fromCharCode(tag)}' during streaming`,
          ),
        );
      }
      if (wire.failed) throw this.fail(wire.failed);
      await wire.wait();
    }
  }

  /** Fails the stream with `err` but keeps the session: reads on to ReadyForQuery. Returns `err`. */
  private async endWith(err: Error): Promise<Error> {
    this.state = 'failed';
    this.failure = err;
    this.cleanup();
    await this.drainTo(READY_FOR_QUERY).then(
      () => this.onFinished(true),
      () => this.onFinished(false),
    );
    return err;
  }

  /** A for-await loop that breaks out stops the stream cleanly. */
  async return(): Promise<IteratorResult<StreamMessage>> {
    await this.stop();
    return { done: true, value: undefined };
  }

  /**
   * Clean stop: final status update, CopyDone, then read (discarding data the consumer never saw) up to
   * the server's CopyDone, CommandComplete and ReadyForQuery. The connection can then run commands.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.state !== 'streaming') return;
    this.sendFeedback();
    this.state = 'stopping';
    this.cleanup();
    // A server that never answers CopyDone must not hang stop(): silence this long fails it (data
    // still arriving keeps it waiting, e.g. the rest of a large transaction in flight).
    this.wire.setReceiveTimeout(this.stopTimeoutMs, () => {});
    try {
      this.wire.send({ type: 'CopyDone' });
      if (!this.serverEnded) await this.drainTo(COPY_DONE);
      await this.drainTo(READY_FOR_QUERY);
    } catch (err) {
      this.fail(err as Error);
      throw this.failure;
    } finally {
      this.wire.stopTimer();
    }
    this.state = 'done';
    this.onFinished(true);
  }

  /** Reads frames until one with `until`; CopyData and CommandComplete are expected on the way. */
  private async drainTo(until: number): Promise<void> {
    let error: PgServerError | undefined;
    for (;;) {
      await this.wire.next();
      const tag = this.wire.tag;
      if (tag === until) break;
      if (tag === ERROR_RESPONSE && until === READY_FOR_QUERY) {
        error ??= new PgServerError('stream', decodeErrorResponse(this.wire.body).fields, {
          command: 'START_REPLICATION',
        });
      } else if (tag !== COPY_DATA && !isPiece(tag) && tag !== COMMAND_COMPLETE && tag !== COPY_DONE) {
        throw new ProtocolError(
          'WALDUCK_UNEXPECTED_MESSAGE',
          'stream',
          `unexpected message '${String.fromCharCode(tag)}' while ending the stream`,
        );
      }
    }
    if (error) throw error;
  }

  private cleanup(): void {
    clearInterval(this.timer);
    this.wire.onArrive = undefined;
    this.wire.setReceiveTimeout(0, () => {});
    this.wire.setBudget(Number.POSITIVE_INFINITY);
    // A frame already in pieces stays so (drainTo takes its pieces); the next ones are whole again.
    this.wire.setPieceBytes(Number.POSITIVE_INFINITY);
  }

  private fail(err: Error): Error {
    if (this.state === 'failed' && this.failure) return this.failure;
    this.state = 'failed';
    this.failure =
      err instanceof ProtocolError || err instanceof ConnectionError
        ? (inPhase(err, 'stream') as Error)
        : err;
    this.cleanup();
    this.wire.fail(this.failure);
    this.wire.socket.destroy();
    this.onFinished(false);
    return this.failure;
  }
}
