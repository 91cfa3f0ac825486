// walduck replicate --source CONNINFO --duckdb FILE --tables schema.table[,…] [--slot NAME]
//   [--format-version 1|2] [--batch-changes N] [--batch-ms N] [--endpos LSN | --until-caught-up]
//   [--snapshot | --no-snapshot] [--snapshot-jobs N] [--retry-for DURATION] [--status-interval S]
//   [--takeover] [--metrics ADDR:PORT] [--ready-lag SIZE] [--socket-buffer SIZE]
//   [--js-young-generation SIZE] [--slot-check-interval S]
import type { Argv } from 'yargs';
import { formatLsn, parseLsn } from '../../protocol/lsn.js';
import { Health, serveMetrics } from '../../replicator/metrics.js';
import type { ReplicateOptions, StopAt } from '../../replicator/replicate.js';
import { DEFAULT_MEMORY_LIMIT, DEFAULT_THREADS } from '../../sink/duckdb-file.js';
import { LogSnapshotDisplay, TerminalSnapshotDisplay } from '../../snapshot/progress.js';
import { UsageError } from '../errors.js';
import { log, notice, warn } from '../log.js';
import { startMemSampler } from '../mem-sample.js';
import { chosenTables, wholeNumber } from '../options.js';
import { ProgressDisplay, writeStatsJson } from '../progress.js';
import { stopSignal } from '../shutdown.js';
import { capYoungGeneration } from '../young-gen.js';

/**
 * --socket-buffer's default. Received messages stay queued as the socket's 64 kB reads; a read that
 * waits behind a long queue outlives young-generation collections, is promoted, and is freed only by a
 * full GC, which V8 starts for external memory about every 64 MB. At 16 MiB (the protocol's default)
 * 16-50 MB of consumed reads were waiting for it at peak, 2-26 MB at 2 MiB (issue 19).
 */
export const DEFAULT_SOCKET_BUFFER = '2MB';

/**
 * --js-young-generation's default: V8's young generation otherwise grows to 32 MiB on this machine
 * (two 16 MiB semi-spaces). At 16 the insert, update and 50-column peaks drop by about 16 MB; at 8
 * one run cost 5-30% more CPU (issue 19).
 */
export const DEFAULT_YOUNG_GENERATION = '16MB';

export function replicateCommand(y: Argv): Argv {
  return y.command(
    'replicate',
    'follow a PostgreSQL database into a DuckDB file, exactly once',
    (a) =>
      a
        .option('source', {
          type: 'string',
          describe:
            'libpq conninfo or postgres:// URL of the source (PG* variables fill the gaps; DB_CONF also accepted)',
        })
        .option('duckdb', {
          type: 'string',
          demandOption: true,
          describe: 'DuckDB file to keep equal to the source',
        })
        .option('tables', {
          type: 'string',
          describe:
            'schema.table[,…] (no schema = public; TABLE_NAME also accepted); default: every table with a key or replica identity',
        })
        .option('drop-removed', {
          type: 'boolean',
          default: false,
          describe:
            'drop the DuckDB table of a table no longer in the table set (default: leave it as it is, no longer followed)',
        })
        .option('slot', {
          type: 'string',
          describe: 'logical replication slot (default walduck_<database>), created when missing',
        })
        .option('format-version', {
          type: 'number',
          choices: [1, 2],
          default: 2,
          describe: 'wal2json output format',
        })
        .option('write-in-chunks', {
          type: 'boolean',
          default: true,
          describe:
            'format 1 only: let wal2json split each transaction into many messages (bounded memory); --no-write-in-chunks asks for one document per transaction',
        })
        .option('duckdb-memory-limit', {
          type: 'string',
          default: DEFAULT_MEMORY_LIMIT,
          describe:
            "DuckDB's memory_limit (its buffer pool); beyond it DuckDB spills to disk, so a huge transaction stays bounded. Raise it (e.g. 1GB) for faster large flushes on a big machine",
        })
        .option('duckdb-threads', {
          type: 'number',
          default: DEFAULT_THREADS,
          describe:
            'DuckDB\'s worker threads; replicate\'s statements run one at a time, and one thread costs the least CPU (README "Memory"); each holds some memory of its own',
        })
        .option('socket-buffer', {
          type: 'string',
          default: DEFAULT_SOCKET_BUFFER,
          describe:
            'received but not yet applied changes above which walduck stops reading the socket (the server then waits); more costs memory, not speed',
        })
        .option('js-young-generation', {
          type: 'string',
          default: DEFAULT_YOUNG_GENERATION,
          describe:
            "cap on V8's young generation (0: V8's own, 32MB here); smaller saves memory and costs garbage-collection CPU",
        })
        .option('batch-changes', {
          // --batch-rows was its first name (it counts changes, not rows): still accepted.
          alias: 'batch-rows',
          type: 'number',
          default: 100_000,
          describe: 'commit to DuckDB after this many changes',
        })
        .option('batch-ms', { type: 'number', default: 1000, describe: 'or after this many milliseconds' })
        .option('copy-chunk-rows', {
          type: 'number',
          default: 20_000,
          describe: 'an online copy (README "Online copy") reads at most this many rows per chunk',
        })
        .option('endpos', {
          type: 'string',
          describe: 'stop once every transaction ending at or before this LSN is applied',
        })
        .option('until-caught-up', {
          type: 'boolean',
          describe: "stop once everything up to the server's WAL position at start is applied",
        })
        .option('stats-json', { type: 'string', describe: 'write the final figures to this file as JSON' })
        .option('progress-interval', {
          type: 'number',
          default: 10,
          describe: 'seconds between progress lines when stderr is not a terminal (0: none)',
        })
        .option('retry-for', {
          type: 'string',
          describe:
            'keep reconnecting after transient failures (restart, cut, terminated walsender) this long, e.g. 30s, 10m, 2h, forever (default: forever when continuous, 30s with --endpos/--until-caught-up)',
        })
        .option('status-interval', {
          type: 'number',
          default: 10,
          describe:
            "seconds between status updates to the server, as pg_recvlogical's (capped at a third of its wal_sender_timeout)",
        })
        .option('takeover', {
          type: 'boolean',
          describe:
            'when another server process holds the slot, terminate it (pg_terminate_backend) instead of waiting for it',
        })
        .option('metrics', {
          type: 'string',
          describe: 'serve Prometheus metrics on http://ADDR:PORT/metrics and a readiness check on /healthz',
        })
        .option('ready-lag', {
          type: 'string',
          default: '64MB',
          describe:
            '/healthz answers 200 while connected and at most this far behind the server (bytes, kB, MB, GB)',
        })
        .option('slot-check-interval', {
          type: 'number',
          default: 30,
          describe:
            "seconds between looks at the slot's wal_status and safe_wal_size (warned about, in the progress line and metrics, as they get worse; 0: never)",
        })
        .conflicts('endpos', 'until-caught-up')
        .option('snapshot', {
          type: 'boolean',
          describe:
            'copy the existing rows first (default when walduck creates the slot); --snapshot forces it on a new DuckDB file (recreating an inactive slot), --no-snapshot streams only new changes',
        })
        .option('numeric', {
          type: 'string',
          choices: ['double', 'exact'],
          default: 'double',
          describe:
            "double: unconstrained numeric (and numeric(p > 38)) as DOUBLE, rounded to 17 significant digits as DuckDB's postgres extension does; a NaN or ±Infinity in numeric(p,s) stops. exact: every numeric value kept, as DECIMAL(38,s) while the values fit (numeric(p <= 38,s) as DECIMAL(p,s)), the column widened in place to a larger scale or to VARCHAR (PostgreSQL's text) by the first value that does not fit, NaN and ±Infinity included",
        })
        .option('on-drop-column', {
          choices: ['keep', 'drop'] as const,
          default: 'keep' as const,
          describe:
            'a column dropped on the source: keep it in DuckDB (NULL in rows written afterwards) or drop it there too',
        })
        .option('on-type-change', {
          choices: ['stop', 'recopy'] as const,
          default: 'stop' as const,
          describe:
            'a type change DuckDB cannot follow losslessly, or a changed primary key: stop with the command to resync the table, or (recopy) rebuild the DuckDB table and copy it again online',
        })
        .option('snapshot-jobs', {
          type: 'number',
          default: 1,
          describe: 'connections copying at once under the same snapshot (large tables split by page ranges)',
        })
        .example(
          "$0 replicate --source 'host=db user=repl dbname=shop' --duckdb shop.duckdb --tables public.orders,public.items",
          'follow two tables',
        ),
    async (args) => {
      privateFiles();
      startMemSampler();
      const source = args.source ?? process.env.DB_CONF;
      const tables = chosenTables(args.tables);
      let stopAt: StopAt = { kind: 'never' };
      if (args.endpos !== undefined) {
        const lsn = parseLsn(args.endpos);
        if (lsn === undefined)
          throw new UsageError(`--endpos ${JSON.stringify(args.endpos)} is not an LSN like 0/16B3748`);
        stopAt = { kind: 'endpos', lsn };
      } else if (args['until-caught-up']) stopAt = { kind: 'caught-up' };
      const retryFor =
        args['retry-for'] === undefined ? undefined : parseDuration('--retry-for', args['retry-for']);
      const statusInterval = args['status-interval'];
      if (!(Number.isFinite(statusInterval) && statusInterval > 0))
        throw new UsageError('--status-interval must be a positive number of seconds');
      const readyLag = parseBytes('--ready-lag', args['ready-lag']);
      const socketBuffer = parseBytes('--socket-buffer', args['socket-buffer']);
      capYoungGeneration(parseBytes('--js-young-generation', args['js-young-generation']) / 1024 / 1024);
      if (socketBuffer < 1) throw new UsageError('--socket-buffer must be a positive size');
      const slotCheck = args['slot-check-interval'];
      if (!(Number.isFinite(slotCheck) && slotCheck >= 0))
        throw new UsageError('--slot-check-interval must be a number of seconds (0: never)');
      const metricsAt = args.metrics === undefined ? undefined : parseListen(args.metrics);
      for (const k of ['batch-changes', 'batch-ms', 'snapshot-jobs', 'copy-chunk-rows'] as const) {
        const v = args[k];
        if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${k} must be a positive whole number`);
      }
      const options: ReplicateOptions = {
        source,
        duckdb: args.duckdb,
        duckdbMemoryLimit: args['duckdb-memory-limit'],
        ...(args['duckdb-threads'] !== undefined
          ? { duckdbThreads: wholeNumber('duckdb-threads', args['duckdb-threads']) }
          : {}),
        socketBufferBytes: socketBuffer,
        tables,
        slot: args.slot,
        formatVersion: args['format-version'] === 1 ? 1 : 2,
        writeInChunks: args['write-in-chunks'],
        batchChanges: args['batch-changes'],
        numeric: args.numeric === 'exact' ? 'exact' : 'double',
        onDropColumn: args['on-drop-column'],
        onTypeChange: args['on-type-change'],
        dropRemoved: args['drop-removed'],
        batchMs: args['batch-ms'],
        copyChunkRows: args['copy-chunk-rows'],
        stopAt,
        snapshot: args.snapshot === undefined ? 'auto' : args.snapshot ? 'force' : 'off',
        snapshotJobs: args['snapshot-jobs'],
        signal: stopSignal(),
        ...(retryFor !== undefined ? { retryForMs: retryFor } : {}),
        statusIntervalMs: statusInterval * 1000,
        takeover: args.takeover === true,
        onConnection: (e) => health.connection(e),
        slotGuardMs: slotCheck * 1000,
        onSlot: (h) => {
          health.slot = h;
          progress.setNote(h.danger);
        },
        log: log.replicate,
        logs: { protocol: log.protocol, wal2json: log.wal2json, sink: log.sink },
        warn,
        notice,
        snapshotProgress: process.stderr.isTTY
          ? new TerminalSnapshotDisplay(process.stderr)
          : new LogSnapshotDisplay(log.replicate),
        onProgress: (p) => {
          health.figures = p;
          progress.update({
            changes: p.changes,
            transactions: p.transactions,
            bytes: p.bytes,
            lsn: p.applied,
            serverEnd: p.serverEnd,
          });
        },
      };
      const progress = new ProgressDisplay({
        command: 'replicate',
        intervalSeconds: wholeNumber('progress-interval', args['progress-interval'], true) ?? 10,
      });
      // Loaded when run: the replicator pulls in DuckDB's native module, which other commands never need.
      const { replicate } = await import('../../replicator/replicate.js');
      const health = new Health(readyLag);
      const server = metricsAt ? await serveMetrics(health, metricsAt.host, metricsAt.port) : undefined;
      if (server && metricsAt) log.replicate(`metrics on http://${metricsAt.host}:${server.port}/metrics`);
      let r: Awaited<ReturnType<typeof replicate>>;
      try {
        r = await replicate(options);
      } finally {
        await server?.close();
      }
      const lat = r.latency
        ? `; latency p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms, max ${r.latency.maxMs} ms`
        : '';
      const stats = progress.finish(
        {
          changes: r.changes,
          transactions: r.transactions,
          bytes: r.bytes,
          lsn: r.applied,
          serverEnd: r.serverEnd,
        },
        { slot: r.slot, startLsn: r.startedAt, stoppedBy: r.stoppedBy },
      );
      writeStatsJson(args['stats-json'], Object.assign(stats, { unmatched: r.unmatched }));
      const diverged = r.unmatched > 0 ? `; ${r.unmatched} update/delete row(s) unmatched in DuckDB` : '';
      process.stderr.write(
        `walduck: ${r.changes} changes in ${r.transactions} transactions applied to ${args.duckdb}, up to ${formatLsn(r.applied)} (${r.stoppedBy})${lat}${diverged}\n`,
      );
    },
  );
}

/** "30s", "10m", "2h", "1d", "500ms", "forever", or a bare number of seconds, in ms. */
export function parseDuration(name: string, text: string): number {
  if (/^(forever|inf|infinity)$/i.test(text.trim())) return Number.POSITIVE_INFINITY;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/.exec(text);
  if (!m)
    throw new UsageError(`${name} ${JSON.stringify(text)} is not a duration like 30s, 10m, 2h or forever`);
  const unit: Record<string, number> = {
    ms: 1,
    s: 1000,
    m: 60_000,
    min: 60_000,
    h: 3_600_000,
    d: 86_400_000,
  };
  return Number(m[1]) * (unit[m[2] ?? 's'] ?? 1000);
}

/** "64MB", "512kB", "1GB", "100000" (bytes). */
export function parseBytes(name: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${name} ${JSON.stringify(text)} is not a size like 64MB`);
  const unit: Record<string, number> = {
    B: 1,
    kB: 1024,
    KB: 1024,
    MB: 1024 ** 2,
    GB: 1024 ** 3,
    TB: 1024 ** 4,
  };
  return Math.round(Number(m[1]) * (unit[m[2] ?? 'B'] ?? 1));
}

/** "ADDR:PORT", "[::1]:PORT" or ":PORT" (all interfaces). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`--metrics ${JSON.stringify(text)} is not ADDR:PORT, e.g. 127.0.0.1:9187`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/**
 * The replica is a copy of the source's rows, so the files this run creates (the DuckDB file, its
 * .wal, the snapshot's CSV segments) are for the user alone: 0600, as pg_recvlogical's output, with
 * the umask free to take more away but not to give the group or others access. A replica meant to
 * be shared is chmod-ed afterwards (existing files keep their mode).
 */
export function privateFiles(): void {
  process.umask(process.umask() | 0o077);
}
