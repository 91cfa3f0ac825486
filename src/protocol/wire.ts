// The socket as a queue of complete backend frames.
//
// Chunks go through the FrameDecoder; messages that may arrive at any time (NoticeResponse,
// ParameterStatus, NotificationResponse) are handled on arrival and never queued; everything else is
// queued for whoever reads next (startup, a query, the replication stream). A reader takes frames with
// take() (no allocation: the frame is left in `tag`/`body`) and awaits wait() when the queue is empty.
//
// Backpressure: queued body bytes are counted; above `budget` the socket is paused (TCP then pushes
// back on the server), below half of it resumed. A failure (socket error, close, protocol error) is
// reported only after the frames that arrived before it were taken, so an ErrorResponse that the
// server sent just before closing is still read.

import type { Socket } from 'node:net';
import { ConnectionError, inPhase, type Phase, ProtocolError } from './errors.js';
import { FrameDecoder } from './frame-decoder.js';
import { FrameQueue } from './frame-queue.js';
import type { NoticeFields } from './messages/backend/notice-fields.js';
import { decodeNoticeResponse, NOTICE_RESPONSE } from './messages/backend/notice-response.js';
import { NOTIFICATION_RESPONSE } from './messages/backend/notification-response.js';
import { decodeParameterStatus, PARAMETER_STATUS } from './messages/backend/parameter-status.js';
import { encodeFrontendMessage, type FrontendMessage } from './messages/frontend/index.js';
import { type TraceFn, traceBackend, traceFrontend } from './trace.js';

export type LogFn = (msg: string) => void;

const EMPTY = Buffer.alloc(0);

/**
 * Distinct ParameterStatus names kept. PostgreSQL reports about twenty; a server that reports
 * thousands is not one, and each entry (up to 30000 bytes, see the frame caps) would stay in memory.
 */
export const MAX_PARAMETERS = 256;

export interface WireHooks {
  readonly log?: LogFn | undefined;
  readonly trace?: TraceFn | undefined;
  readonly onNotice?: ((n: NoticeFields) => void) | undefined;
}

export class Wire {
  phase: Phase = 'startup';
  readonly parameters = new Map<string, string>();
  /**
   * The frame left by the last successful take(): its tag, and its body as `buf[start..end)`. The
   * body is kept as a range and `body` makes its view when first asked: the replication stream reads
   * an XLogData from the range and makes one view, of its payload, instead of two per message.
   */
  tag = 0;
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  private bodyView: Buffer | undefined = EMPTY;
  /**
   * Called for each queued frame as it arrives (its body as `buf[start..end)`), before any reader sees
   * it (replication's keepalives).
   */
  onArrive: ((tag: number, buf: Buffer, start: number, end: number) => void) | undefined;

  private readonly decoder = new FrameDecoder(undefined, 'startup');
  private readonly queue = new FrameQueue();
  private queuedBytes = 0;
  private budget = Number.POSITIVE_INFINITY;
  private paused = false;
  private failure: Error | undefined;
  private socketError: Error | undefined;
  private closing = false;
  private waiter: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private receivedSinceTick = false;
  private silentMs = 0;
  private pinged = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly hooks: WireHooks,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('close', () => this.onClose());
    socket.setNoDelay(true);
    // The SSLRequest answer was read with the socket paused; a 'data' listener alone does not undo that.
    socket.resume();
  }

  /** Startup is over (first ReadyForQuery): data-carrying messages may now be long. */
  sessionStarted(): void {
    this.decoder.stage = 'session';
  }

  /** Bytes of queued frames not yet taken. */
  get queued(): number {
    return this.queuedBytes;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    try {
      this.decoder.pushRanges(chunk, this.frameHandler);
    } catch (err) {
      this.fail(inPhase(err, this.phase) as Error);
      this.socket.destroy();
    }
  }

  /** Runs a caller's hook; a hook that throws must not take the connection down with it. */
  private callHook(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.hooks.log?.(`a log/trace/notice hook threw: ${(err as Error)?.message}`);
    }
  }

  private readonly frameHandler = (tag: number, buf: Buffer, start: number, end: number): void =>
    this.onFrame(tag, buf, start, end);

  private onFrame(tag: number, buf: Buffer, start: number, end: number): void {
    const trace = this.hooks.trace;
    if (trace) this.callHook(() => trace(traceBackend(tag, buf.subarray(start, end))));
    switch (tag) {
      case NOTICE_RESPONSE: {
        const fields = decodeNoticeResponse(buf.subarray(start, end)).fields;
        const onNotice = this.hooks.onNotice;
        if (onNotice) this.callHook(() => onNotice(fields));
        else this.hooks.log?.(`server ${fields.severity}: ${fields.message}`);
        return;
      }
      case PARAMETER_STATUS: {
        const p = decodeParameterStatus(buf.subarray(start, end));
        if (this.parameters.size >= MAX_PARAMETERS && !this.parameters.has(p.name)) {
          throw new ProtocolError(
            'WALDUCK_LIMIT_EXCEEDED',
            this.phase,
            `the server reported more than ${MAX_PARAMETERS} distinct parameters (ParameterStatus): not a PostgreSQL server, or a hostile one`,
          );
        }
        this.parameters.set(p.name, p.value);
        return;
      }
      case NOTIFICATION_RESPONSE:
        return; // we never LISTEN; nothing to deliver it to
    }
    this.onArrive?.(tag, buf, start, end);
    this.queue.push(tag, buf, start, end);
    this.queuedBytes += end - start + 5;
    if (this.queuedBytes > this.budget && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.notify();
  }

  private onClose(): void {
    if (this.closing) {
      this.fail(new ConnectionError('WALDUCK_CONNECTION_CLOSED', this.phase, 'the connection was closed'));
      return;
    }
    const cause = this.socketError;
    if (this.decoder.midFrame) {
      this.fail(
        new ProtocolError(
          'WALDUCK_TRUNCATED_FRAME',
          this.phase,
          'the server closed the connection in the middle of a message (truncated frame)',
          cause ? { cause } : undefined,
        ),
      );
    } else {
      const why = cause ? `: ${cause.message}` : '';
      this.fail(
        new ConnectionError(
          'WALDUCK_CONNECTION_LOST',
          this.phase,
          `the server closed the connection unexpectedly${why} (server restart, crash, or terminated backend; see the server log)`,
          cause ? { cause } : undefined,
        ),
      );
    }
  }

  private notify(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      this.waiter = undefined;
      wake();
    }
  }

  /** Marks the connection failed; readers get `err` once the queue is drained. The first failure wins. */
  fail(err: Error): void {
    this.failure ??= err;
    this.stopTimer();
    this.notify();
  }

  /** The tag of the next queued frame without taking it; 0 when none is queued. */
  peekTag(): number {
    return this.queue.peekTag();
  }

  /** Takes the next queued frame into `tag`/`body`; false if none is queued (see wait, failed). */
  take(): boolean {
    const q = this.queue;
    if (q.size === 0) return false;
    const i = q.shift();
    this.tag = q.tagAt(i);
    this.buf = q.takeBufAt(i);
    this.start = q.startAt(i);
    this.end = q.endAt(i);
    this.bodyView = undefined;
    this.queuedBytes -= this.end - this.start + 5;
    if (this.paused && this.queuedBytes <= this.budget / 2) {
      this.paused = false;
      this.silentMs = 0;
      this.socket.resume();
    }
    return true;
  }

  /** The body of the frame left by take(): a view of `buf[start..end)`, made once when first asked. */
  get body(): Buffer {
    let b = this.bodyView;
    if (b === undefined) {
      const buf = this.buf;
      b = this.start === 0 && this.end === buf.length ? buf : buf.subarray(this.start, this.end);
      this.bodyView = b;
    }
    return b;
  }

  /** Resolves when a frame is queued or the connection failed. Shared by all waiters. */
  wait(): Promise<void> {
    if (this.queue.size > 0 || this.failure) return Promise.resolve();
    this.waiter ??= new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    return this.waiter;
  }

  /** The next frame, for the non-hot paths (startup, commands). Throws the failure when drained. */
  async next(): Promise<void> {
    for (;;) {
      if (this.take()) return;
      if (this.failure) throw this.failure;
      await this.wait();
    }
  }

  send(m: FrontendMessage): void {
    const bytes = encodeFrontendMessage(m);
    const trace = this.hooks.trace;
    if (trace) this.callHook(() => trace(traceFrontend(m, bytes)));
    this.write(bytes);
  }

  write(bytes: Buffer): void {
    if (this.failure) throw this.failure;
    this.socket.write(bytes);
  }

  setBudget(bytes: number): void {
    this.budget = bytes;
  }

  get pieceBytes(): number {
    return this.decoder.pieceBytes;
  }

  /** CopyData bodies above this many bytes arrive in pieces (frame-decoder.ts); Infinity: whole. */
  setPieceBytes(bytes: number): void {
    this.decoder.pieceBytes = bytes;
  }

  /**
   * Detects a half-open connection: after `ms / 2` without a byte, `ping` is called (the stream asks
   * the server for a keepalive); after `ms`, the connection fails with RECEIVE_TIMEOUT. Time while we
   * paused the socket ourselves does not count. 0 turns it off.
   */
  setReceiveTimeout(ms: number, ping: () => void): void {
    this.stopTimer();
    if (ms <= 0) return;
    // Silence is counted in whole ticks (a tick with any byte starts it over), so it is noticed up to
    // a tick late: ticks of at most a second keep that small (a quarter of 60 s was 60-75 s).
    const tick = Math.max(Math.min(Math.floor(ms / 4), 1000), 1);
    this.silentMs = 0;
    this.pinged = false;
    this.receivedSinceTick = false;
    this.timer = setInterval(() => {
      if (this.receivedSinceTick || this.paused) {
        this.receivedSinceTick = false;
        this.silentMs = 0;
        this.pinged = false;
        return;
      }
      this.silentMs += tick;
      if (this.silentMs >= ms) {
        this.fail(
          new ConnectionError(
            'WALDUCK_RECEIVE_TIMEOUT',
            this.phase,
            `nothing received from the server for ${ms} ms although it was asked for a keepalive: the connection is dead (network or server gone)`,
          ),
        );
        this.socket.destroy();
      } else if (this.silentMs >= ms / 2 && !this.pinged) {
        this.pinged = true;
        ping();
      }
    }, tick);
    this.timer.unref();
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends Terminate if possible and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopTimer();
    const s = this.socket;
    if (s.destroyed) return;
    if (!this.failure && s.writable) {
      try {
        this.send({ type: 'Terminate' });
      } catch {
        // Already failing: closing is all that is left.
      }
    }
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      // A socket we paused for backpressure would never read the server's FIN, so never 'close'.
      this.budget = Number.POSITIVE_INFINITY;
      s.resume();
      s.end();
      // A server that neither reads nor closes must not keep us: the socket goes after a grace period.
      setTimeout(() => s.destroy(), 2000).unref();
    });
  }
}
