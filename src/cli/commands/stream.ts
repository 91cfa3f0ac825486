// walduck stream: the output plugin's payloads, one per line, byte for byte what `pg_recvlogical -f -`
// writes for the same slot and range. For learning, debugging, and piping into other tools.
//
// pg_recvlogical's rules, kept exactly so the outputs compare equal:
//   - each XLogData payload is written as it came, followed by "\n";
//   - --endpos: a payload starting beyond it is not written, one starting at it is the last; a
//     keepalive whose WAL end reaches it ends the stream (nothing before it is still to come);
//   - the position written is the highest payload start, or a keepalive's WAL end once everything
//     before it is written; it is reported as flushed only once it is durable: at once for a pipe,
//     after fsync for a file;
//   - only a user's stop (SIGINT, SIGTERM) or reaching --endpos is success (exit 0). A stream the
//     server ends (a shutting-down walsender ends it so) or a connection that drops is exit 1 with one
//     line saying so and how far the output got; what arrived before is still written (and fsynced).
import type { Argv } from 'yargs';
import {
  ConnectionError,
  connect,
  formatLsn,
  type Lsn,
  type ReplicationStream,
  WalduckError,
} from '../../protocol/index.js';
import { MessagePump, type Pumped } from '../../replicator/pump.js';
import { Wake } from '../../replicator/wake.js';
import { ensureSlot } from '../../source/slot.js';
import { log, oneLine, warn } from '../log.js';
import {
  connectionSettings,
  lsnOption,
  pluginOptions,
  slotName,
  wholeNumber,
  withConnection,
} from '../options.js';
import { type Output, openOutput } from '../output.js';
import { ProgressDisplay, summaryLine, writeStatsJson } from '../progress.js';
import { stopSignal } from '../shutdown.js';

/** Pending output above this is written without waiting for the loop to go idle. */
const FLUSH_BYTES = 256 * 1024;
const NEWLINE = Buffer.from('\n');

export function streamCommand(y: Argv): Argv {
  return y.command(
    'stream',
    "write the output plugin's payloads, one per line (what pg_recvlogical -f - writes)",
    (a) =>
      withConnection(a)
        .option('slot', { alias: 'S', type: 'string', describe: 'the logical replication slot to read' })
        .option('file', {
          alias: 'f',
          type: 'string',
          default: '-',
          describe: 'output file (appended to), or - for stdout',
        })
        .option('startpos', {
          type: 'string',
          describe: 'start at this LSN (default: where the slot confirmed)',
        })
        .option('endpos', { type: 'string', describe: 'stop at this LSN, as pg_recvlogical --endpos does' })
        .option('option', {
          alias: 'o',
          type: 'string',
          array: true,
          describe:
            'output plugin option NAME[=VALUE] (repeatable), passed as given; NAME alone has no value',
        })
        .option('create-slot', { type: 'boolean', describe: 'create the slot (wal2json) before streaming' })
        .option('if-not-exists', {
          type: 'boolean',
          describe: 'with --create-slot: an existing wal2json slot is fine',
        })
        .option('drop-slot', { type: 'boolean', describe: 'drop the slot after the stream ends' })
        .option('status-interval', {
          alias: 's',
          type: 'number',
          default: 10,
          describe: 'seconds between status updates to the server',
        })
        .option('fsync-interval', {
          alias: 'F',
          type: 'number',
          default: 10,
          describe: 'with -f FILE: seconds between fsyncs (what is acknowledged waits for them)',
        })
        .option('pin-settings', {
          type: 'boolean',
          default: false,
          describe:
            "send replicate's session settings (DateStyle ISO, TimeZone UTC, IntervalStyle postgres, extra_float_digits 3, bytea_output hex, client_encoding UTF8): the same text on any server, no longer pg_recvlogical's bytes",
        })
        .option('stats-json', { type: 'string', describe: 'write the final figures to this file as JSON' })
        .option('progress-interval', {
          type: 'number',
          default: 10,
          describe: 'seconds between progress lines when stderr is not a terminal (0: none)',
        })
        .conflicts('if-not-exists', 'drop-slot')
        .example(
          "$0 stream -d 'dbname=shop' -S shop --create-slot --if-not-exists -o format-version=2 -o include-xids=1",
          'follow slot shop as wal2json format 2 lines on stdout',
        )
        .example(
          '$0 stream -d shop -S shop --endpos 0/3000000 -f changes.jsonl',
          'a fixed range into a file',
        ),
    async (a) => {
      const slot = slotName(a.slot, '-S/--slot');
      const startLsn = lsnOption('startpos', a.startpos) ?? 0n;
      const endpos = lsnOption('endpos', a.endpos);
      const options = pluginOptions(a.option);
      const statusMs = (wholeNumber('status-interval', a['status-interval']) ?? 10) * 1000;
      const fsyncMs = (wholeNumber('fsync-interval', a['fsync-interval'], true) ?? 10) * 1000;
      const progressSeconds = wholeNumber('progress-interval', a['progress-interval'], true) ?? 10;
      const settings = connectionSettings(a);
      const signal = stopSignal();
      const stopOnOutputError = new AbortController();
      const out = openOutput(a.file, () => stopOnOutputError.abort());
      const conn = await connect(settings, {
        replication: 'database',
        // pg_recvlogical's startup packet: the plugin prints with the server's and the role's settings.
        pinSettings: a['pin-settings'] === true,
        log: log.protocol,
        onNotice: (n) => warn(`server ${n.severity}: ${n.message}`),
      });
      try {
        if (a['create-slot']) await ensureSlot(conn, slot, { ifNotExists: a['if-not-exists'] === true });
        const system = await conn.identifySystem();
        const replication = await conn.startReplication({
          slot,
          startLsn,
          options,
          feedbackIntervalMs: statusMs,
        });
        const progress = new ProgressDisplay({ command: 'stream', intervalSeconds: progressSeconds });
        const run = new StreamRun(replication, out, progress, { endpos, fsyncMs, serverEnd: system.xlogPos });
        const { stoppedBy, failure } = await run.loop(AbortSignal.any([signal, stopOnOutputError.signal]));
        const stats = progress.finish(run.figures(), { slot, startLsn, stoppedBy });
        writeStatsJson(a['stats-json'], stats);
        if (stoppedBy === 'server' || stoppedBy === 'error') {
          // Not a stop we asked for: the slot stays (even with --drop-slot), and the exit is 1.
          throw new StreamInterrupted(failure, stats.lsn, endpos);
        }
        if (out.error)
          warn(`output closed (${out.error.code ?? out.error.message}): stopped at ${stats.lsn}`);
        if (a['drop-slot']) await conn.dropReplicationSlot(slot);
        process.stderr.write(`${summaryLine(stats)}\n`);
        if (out.error && out.error.code !== 'EPIPE') throw out.error;
      } finally {
        out.close();
        await conn.close().catch(() => {});
      }
    },
  );
}

class StreamRun {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingLsn: Lsn = 0n;
  /** Highest LSN whose payload is written (to the pipe, or to the file's page cache). */
  private written: Lsn = 0n;
  private flushScheduled = false;
  /** The last write still in flight (stdout completes asynchronously); resolves to whether it succeeded. */
  private lastWrite: Promise<boolean> | undefined;
  private lastSync = Date.now();
  private changes = 0;
  private transactions = 0;
  private bytes = 0;
  private serverEnd: Lsn;

  constructor(
    private readonly stream: ReplicationStream,
    private readonly out: Output,
    private readonly progress: ProgressDisplay,
    private readonly o: { endpos: Lsn | undefined; fsyncMs: number; serverEnd: Lsn },
  ) {
    this.serverEnd = o.serverEnd;
  }

  figures() {
    return {
      changes: this.changes,
      transactions: this.transactions,
      bytes: this.bytes,
      lsn: this.written,
      serverEnd: this.serverEnd,
    };
  }

  /**
   * Streams until a stop: 'signal' (the user's), 'endpos', 'output-closed', 'server' (the server ended
   * the stream) or 'error' (the connection failed: `failure`). What arrived is written in every case.
   */
  async loop(signal: AbortSignal): Promise<{ stoppedBy: string; failure?: Error }> {
    const { endpos } = this.o;
    // With --endpos, a quiet stream asks the server where its WAL ends (it answers with a keepalive).
    const tickMs = endpos !== undefined ? 200 : Math.min(1000, Math.max(this.o.fsyncMs, 100));
    const wake = new Wake(tickMs, signal);
    const pump = new MessagePump(this.stream, wake);
    let stoppedBy = 'signal';
    let failure: Error | undefined;
    try {
      for (;;) {
        let m: Pumped;
        try {
          m = await pump.next(() => this.onTick(endpos !== undefined));
        } catch (err) {
          // A walsender that is shutting down ends the copy with CommandComplete and no CopyDone,
          // which the protocol layer reports as WALDUCK_STREAM_ENDED: the server's end, not a broken link.
          const ended = err instanceof ConnectionError && err.code === 'WALDUCK_STREAM_ENDED';
          stoppedBy = ended ? 'server' : 'error';
          if (!ended) failure = err as Error;
          break;
        }
        if (m === 'abort') break;
        if (m === 'end') {
          stoppedBy = 'server';
          break;
        }
        if (m.type === 'XLogData') {
          if (m.walEnd > this.serverEnd) this.serverEnd = m.walEnd;
          if (endpos !== undefined && m.dataStart > endpos) {
            stoppedBy = 'endpos';
            break;
          }
          this.take(m.data, m.dataStart);
          if (endpos !== undefined && m.dataStart === endpos) {
            stoppedBy = 'endpos';
            break;
          }
        } else {
          if (m.walEnd > this.serverEnd) this.serverEnd = m.walEnd;
          // Everything before a keepalive has arrived: once written, its WAL end counts as written too.
          this.flush(m.walEnd);
          if (endpos !== undefined && m.walEnd >= endpos) {
            stoppedBy = 'endpos';
            break;
          }
        }
        this.progress.update(this.figures());
        if (this.pendingBytes >= FLUSH_BYTES) {
          this.flush();
          await wake.until(this.out.ready());
        }
      }
    } finally {
      wake.close();
    }
    this.flush();
    await this.lastWrite;
    if (!this.out.error) this.sync();
    // After the server's end or a failure there is nothing left to stop (stop() returns at once).
    await this.stream.stop();
    if (failure) return { stoppedBy, failure };
    return { stoppedBy: this.out.error ? 'output-closed' : stoppedBy };
  }

  private onTick(askServer: boolean): void {
    if (this.out.durableOnSync && Date.now() - this.lastSync >= this.o.fsyncMs) {
      this.flush();
      this.sync();
    }
    if (askServer && this.pending.length === 0) this.stream.requestKeepalive();
  }

  private take(data: Buffer, lsn: Lsn): void {
    this.count(data);
    this.bytes += data.length;
    // The payload is a view into the receive buffer, valid until the next read: copy it once, with
    // its newline, into the batch written when the loop goes idle (or the batch is large).
    const line = Buffer.allocUnsafe(data.length + 1);
    data.copy(line);
    line[data.length] = NEWLINE[0] ?? 0x0a;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (lsn > this.pendingLsn) this.pendingLsn = lsn;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes the batch; `upTo` (a keepalive's WAL end) counts as written once everything before it is. */
  private flush(upTo?: Lsn): void {
    this.flushScheduled = false;
    const lsn = upTo !== undefined && upTo > this.pendingLsn ? upTo : this.pendingLsn;
    if (this.pending.length > 0) {
      const buf =
        this.pending.length === 1
          ? (this.pending[0] as Buffer)
          : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.chain(new Promise((resolve) => this.out.write(buf, resolve)), lsn);
    } else if (upTo !== undefined) this.chain(this.lastWrite, lsn);
  }

  /** Marks `lsn` written once `before` (the write carrying it, or the one before a keepalive) is done. */
  private chain(before: Promise<boolean> | undefined, lsn: Lsn): void {
    if (before === undefined) {
      this.mark(lsn);
      return;
    }
    const p = before.then((ok) => {
      if (ok) this.mark(lsn);
      if (this.lastWrite === p) this.lastWrite = undefined;
      return ok;
    });
    this.lastWrite = p;
  }

  private mark(lsn: Lsn): void {
    if (this.out.error || lsn <= this.written) return;
    this.written = lsn;
    if (!this.out.durableOnSync) this.stream.acknowledge(lsn);
  }

  private sync(): void {
    if (!this.out.durableOnSync) return;
    const upTo = this.written;
    this.out.sync();
    this.lastSync = Date.now();
    if (upTo > 0n) this.stream.acknowledge(upTo);
  }

  /** wal2json format 2: one action per payload. Format 1: a document (or chunk) with "kind" per change. */
  private count(data: Buffer): void {
    if (
      data[0] === 0x7b /* { */ &&
      data[2] === 0x61 /* a */ &&
      data.subarray(0, 11).toString('latin1') === '{"action":"'
    ) {
      const action = data[11];
      if (action === 0x43 /* C */) this.transactions++;
      else if (action !== 0x42 /* B */) this.changes++;
      return;
    }
    // No '[' after the colon: pretty-print=1 writes '"change": [' (and '"kind": ').
    if (data.subarray(0, 200).includes('"change":')) this.transactions++;
    for (let i = data.indexOf(KIND); i >= 0; i = data.indexOf(KIND, i + KIND.length)) this.changes++;
  }
}

const KIND = Buffer.from('"kind":');

/**
 * The stream ended before the user stopped it or --endpos was reached. One line: how, how far the
 * output got (a restart resumes from the slot's confirmed position, at most this), and the --endpos
 * missed.
 */
export class StreamInterrupted extends WalduckError {
  override readonly name = 'StreamInterrupted';
  readonly code = 'WALDUCK_STREAM_INTERRUPTED';
  readonly phase = 'stream';
  constructor(failure: Error | undefined, written: string, endpos: Lsn | undefined) {
    const how =
      failure === undefined
        ? 'the server ended the replication stream (as a server shutting down does)'
        : oneLine(failure.message);
    const short = endpos === undefined ? '' : `, short of --endpos ${formatLsn(endpos)}`;
    super(`${how}; output written up to ${written}${short}`, failure ? { cause: failure } : undefined);
  }
}
