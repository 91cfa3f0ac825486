// walduck trace: a replication session with every protocol message printed as it crosses the wire,
// in both directions — to learn the protocol by watching it, or to see what a slot sends.
//
// Without -S it runs a short session of its own: connect, authenticate, IDENTIFY_SYSTEM, a temporary
// slot, START_REPLICATION, a logical message emitted from a second connection so there is a change to
// see, then a clean stop (CopyDone both ways) and Terminate. With -S it follows that slot instead, and
// never acknowledges anything on it: watching a slot must not consume it.
//
// Secrets never reach the output: the protocol layer replaces the password message and SCRAM's proof
// with "[redacted]" before the trace function sees them, and gives no raw bytes for those messages, so
// --hex cannot show them either.
import type { Argv } from 'yargs';
import {
  connect,
  formatLsn,
  type Lsn,
  type PluginOption,
  renderTraceEvent,
  type TraceEvent,
} from '../../protocol/index.js';
import { UsageError } from '../errors.js';
import { log, warn } from '../log.js';
import {
  connectionSettings,
  lsnOption,
  pluginOptions,
  slotName,
  wholeNumber,
  withConnection,
} from '../options.js';
import { stopSignal } from '../shutdown.js';

export function traceCommand(y: Argv): Argv {
  return y.command(
    'trace',
    'print every protocol message of a replication session, both directions, explained',
    (a) =>
      withConnection(a)
        .option('slot', {
          alias: 'S',
          type: 'string',
          describe: 'follow this existing slot (default: a temporary slot of its own)',
        })
        .option('startpos', { type: 'string', describe: 'with -S: start at this LSN' })
        .option('endpos', { type: 'string', describe: 'stop once the stream passes this LSN' })
        .option('option', {
          alias: 'o',
          type: 'string',
          array: true,
          describe:
            'output plugin option NAME[=VALUE] (default for a temporary slot: format-version=2, include-xids=1)',
        })
        .option('messages', {
          type: 'number',
          describe: 'stop after this many replication messages (default 10 for a temporary slot)',
        })
        .option('duration', {
          type: 'number',
          describe: 'stop after this many seconds of streaming (default 2 for a temporary slot)',
        })
        .option('hex', { type: 'boolean', describe: "also print each message's bytes in hex" })
        .option('emit', {
          type: 'boolean',
          default: true,
          describe: 'temporary slot: emit a logical message from a second connection, so a change shows',
        })
        .example('$0 trace -d "host=localhost user=repl dbname=shop"', 'a short session on a temporary slot')
        .example(
          '$0 trace -d shop -S shop --messages 50 --hex',
          'watch 50 messages of slot shop, with bytes',
        ),
    async (a) => {
      const follow = a.slot !== undefined ? slotName(a.slot, '-S/--slot') : undefined;
      const startpos = lsnOption('startpos', a.startpos);
      const endpos = lsnOption('endpos', a.endpos);
      const given = pluginOptions(a.option);
      const limit = wholeNumber('messages', a.messages) ?? (follow ? undefined : 10);
      const seconds = a.duration ?? (follow ? undefined : 2);
      if (seconds !== undefined && !(seconds > 0)) throw new UsageError('--duration must be positive');
      const settings = connectionSettings(a);
      const signal = stopSignal();
      // A reader that goes away (`| head`) ends the trace; the server drops the temporary slot.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
      const out = (line: string) => process.stdout.write(`${line}\n`);
      const secret = settings.password;
      const trace = (e: TraceEvent) => {
        const safe = redact(e, secret);
        out(scrub(renderTraceEvent(safe), secret));
        if (a.hex && safe.bytes) out(hexDump(safe.bytes));
      };

      note(out, 'connect, negotiate TLS per sslmode, start up and authenticate');
      const conn = await connect(settings, {
        replication: 'database',
        trace,
        log: log.protocol,
        onNotice: (n) => warn(`server ${n.severity}: ${n.message}`),
      });
      try {
        note(out, 'IDENTIFY_SYSTEM: which cluster, timeline and WAL position we are talking to');
        await conn.identifySystem();
        let slot: string;
        let start: Lsn;
        if (follow) {
          slot = follow;
          start = startpos ?? 0n;
        } else {
          slot = `walduck_trace_${process.pid}`;
          note(out, 'a temporary slot: the server drops it when this session ends');
          const created = await conn.createReplicationSlot(slot, {
            plugin: 'wal2json',
            temporary: true,
            snapshot: 'noexport',
          });
          start = created.consistentPoint;
        }
        const options: PluginOption[] =
          given.length > 0 || follow
            ? given
            : [
                ['format-version', '2'],
                ['include-xids', '1'],
              ];
        note(out, `START_REPLICATION from ${formatLsn(start)}: the connection switches to a copy stream`);
        const replication = await conn.startReplication({ slot, startLsn: start, options });
        if (!follow && a.emit) {
          // From a plain second session (not traced): a transactional logical message, decoded into the
          // stream like any committed change.
          emitMessage(settings).catch((err: unknown) =>
            warn(
              `could not emit a logical message (${(err as Error).message}); the stream shows keepalives only`,
            ),
          );
        }
        const stopAt = seconds === undefined ? undefined : Date.now() + seconds * 1000;
        let count = 0;
        const iterator = replication[Symbol.asyncIterator]();
        const timeUp = new Promise<'stop'>((resolve) => {
          const timer =
            stopAt === undefined ? undefined : setTimeout(() => resolve('stop'), stopAt - Date.now());
          timer?.unref();
          signal.addEventListener('abort', () => resolve('stop'), { once: true });
          if (signal.aborted) resolve('stop');
        });
        // With --endpos, a quiet stream is asked where the server's WAL ends (a status update makes the
        // walsender answer with a keepalive), as pg_recvlogical's stop rule needs one.
        const ping = endpos === undefined ? undefined : setInterval(() => replication.sendFeedback(), 500);
        try {
          for (;;) {
            const r = await Promise.race([iterator.next(), timeUp]);
            if (r === 'stop' || r.done) break;
            const m = r.value;
            const pos = m.type === 'XLogData' ? m.dataStart : m.walEnd;
            if (endpos !== undefined && m.type === 'XLogData' && pos > endpos) break;
            // A temporary slot dies with the session: acknowledging shows how flush feedback moves.
            if (!follow) {
              replication.acknowledge(pos);
              if (m.type === 'XLogData') replication.sendFeedback();
            }
            count++;
            if (limit !== undefined && count >= limit) break;
            if (endpos !== undefined && pos >= endpos) break;
          }
        } finally {
          clearInterval(ping);
        }
        note(
          out,
          'clean stop: our CopyDone, the server finishes with CopyDone, CommandComplete, ReadyForQuery',
        );
        await replication.stop();
        note(out, 'Terminate: goodbye');
      } finally {
        await conn.close().catch(() => {});
      }
    },
  );
}

/**
 * What the protocol layer already hides (password message, SCRAM proof) plus the cancel key of
 * BackendKeyData, which lets anyone cancel this session's queries. Any message whose bytes still
 * carry the password in clear (none should) loses its bytes; see `scrub` for the rendered text.
 */
export function redact(e: TraceEvent, password: string | undefined): TraceEvent {
  if (e.name === 'BackendKeyData') {
    return {
      direction: e.direction,
      name: e.name,
      length: e.length,
      fields: { ...e.fields, secretKey: '[redacted]' },
    };
  }
  if (
    password &&
    e.bytes &&
    Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength).includes(password)
  ) {
    return { direction: e.direction, name: e.name, length: e.length, fields: e.fields };
  }
  return e;
}

/** Last line of defence: the password never leaves in a rendered line, whatever a renderer shows. */
export function scrub(line: string, password: string | undefined): string {
  return password ? line.replaceAll(password, '[redacted]') : line;
}

function note(out: (s: string) => void, text: string): void {
  out(`-- ${text}`);
}

async function emitMessage(settings: Parameters<typeof connect>[0]): Promise<void> {
  const c = await connect(settings, { replication: false, log: log.protocol });
  try {
    await c.query("SELECT pg_logical_emit_message(true, 'walduck', 'hello from walduck trace')");
  } finally {
    await c.close().catch(() => {});
  }
}

/** "    0000  51 00 00 00 14 49 44 45  4e 54 49 46 59 5f 53 59  |Q....IDENTIFY_SY|" lines. */
export function hexDump(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const text = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(
      `    ${off.toString(16).padStart(4, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${text}|`,
    );
  }
  return lines.join('\n');
}
