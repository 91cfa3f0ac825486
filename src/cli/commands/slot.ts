// walduck slot create|drop|list|status: the wal2json replication slots of a database, by hand.
//
// A slot is the server's promise to keep WAL from its restart_lsn on until a client confirms it:
// an abandoned slot keeps WAL forever and can fill the disk. `list` and `status` show how much each
// one holds back, so that is seen before it hurts.
import type { Argv } from 'yargs';
import { type Connection, connect, formatLsn, type Lsn, WalduckError } from '../../protocol/index.js';
import { Wake } from '../../replicator/wake.js';
import { storedLsn } from '../../sink/duckdb-file.js';
import { ensureSlot, readSlot, readSlots, type Slot, SlotError } from '../../source/slot.js';
import { UsageError } from '../errors.js';
import { formatBytes, parseBytes, table } from '../format.js';
import { log, oneLine, warn } from '../log.js';
import { type ConnectionArgs, connectionSettings, slotName, withConnection } from '../options.js';
import { stopSignal } from '../shutdown.js';

async function open(a: ConnectionArgs): Promise<Connection> {
  return connect(connectionSettings(a), {
    replication: 'database',
    log: log.protocol,
    onNotice: (n) => warn(`server ${n.severity}: ${n.message}`),
  });
}

async function withConn<T>(a: ConnectionArgs, use: (c: Connection) => Promise<T>): Promise<T> {
  const c = await open(a);
  try {
    return await use(c);
  } finally {
    await c.close().catch(() => {});
  }
}

const showLsn = (l: Lsn | null) => (l === null ? '-' : formatLsn(l));
const showSize = (b: bigint | null) => (b === null ? '-' : `${b} (${formatBytes(b)})`);

function slotJson(s: Slot): Record<string, unknown> {
  return {
    slot: s.name,
    plugin: s.plugin,
    type: s.slotType,
    database: s.database,
    temporary: s.temporary,
    active_pid: s.activePid,
    restart_lsn: s.restartLsn === null ? null : formatLsn(s.restartLsn),
    confirmed_flush_lsn: s.confirmedFlush === null ? null : formatLsn(s.confirmedFlush),
    retained_bytes: s.retainedBytes === null ? null : Number(s.retainedBytes),
    lag_bytes: s.lagBytes === null ? null : Number(s.lagBytes),
    wal_status: s.walStatus,
  };
}

function nameArg<T>(y: Argv<T>) {
  return withConnection(y)
    .positional('name', { type: 'string', describe: 'slot name (or -S)' })
    .option('slot', { alias: 'S', type: 'string', describe: 'slot name' });
}

function pickName(a: { name?: string | undefined; slot?: string | undefined }): string {
  if (a.name !== undefined && a.slot !== undefined && a.name !== a.slot) {
    throw new UsageError(`two slot names given: ${a.name} and ${a.slot}`);
  }
  return slotName(a.slot ?? a.name, '-S/--slot');
}

export function slotCommand(y: Argv): Argv {
  return y.command('slot', 'create, drop, list and inspect wal2json replication slots', (s) =>
    s
      .command(
        'create [name]',
        'create a wal2json logical replication slot',
        (a) =>
          nameArg(a)
            .option('temporary', {
              type: 'boolean',
              describe: 'a temporary slot: it lives as long as this command runs (until Ctrl-C)',
            })
            .option('if-not-exists', {
              type: 'boolean',
              describe: 'succeed when a wal2json slot of that name exists already',
            })
            .example('$0 slot create -d shop -S shop_wal2json', 'a persistent slot in database shop'),
        async (a) => {
          const name = pickName(a);
          await withConn(a, async (c) => {
            const r = await ensureSlot(c, name, {
              ifNotExists: a['if-not-exists'] === true,
              temporary: a.temporary === true,
            });
            if (!r) {
              process.stdout.write(`slot ${name} exists already (wal2json)\n`);
              return;
            }
            const kind = a.temporary ? 'temporary slot' : 'slot';
            process.stdout.write(`${kind} ${r.slotName} created at ${formatLsn(r.consistentPoint)}\n`);
            if (a.temporary) {
              process.stderr.write(
                'walduck: holding the temporary slot until Ctrl-C (it goes with this session)\n',
              );
              await holdSession(c, r.slotName);
            }
          });
        },
      )
      .command(
        'drop [name]',
        'drop a replication slot (the server then frees the WAL it kept)',
        (a) =>
          nameArg(a)
            .option('if-exists', { type: 'boolean', describe: 'succeed when there is no such slot' })
            .option('wait', { type: 'boolean', describe: 'wait while the slot is in use instead of failing' })
            .example('$0 slot drop -d shop -S shop_wal2json', 'drop it'),
        async (a) => {
          const name = pickName(a);
          await withConn(a, async (c) => {
            if (a['if-exists'] && (await readSlot(c, name)) === undefined) {
              process.stdout.write(`no slot ${name}: nothing to drop\n`);
              return;
            }
            await c.dropReplicationSlot(name, { wait: a.wait ?? false });
            process.stdout.write(`slot ${name} dropped\n`);
          });
        },
      )
      .command(
        'list',
        'list replication slots: plugin, active PID, LSNs, WAL retained and lag',
        (a) =>
          withConnection(a)
            .option('json', { type: 'boolean', describe: 'one JSON object per slot and line' })
            .example('$0 slot list -d "host=db user=repl dbname=shop"', 'every slot of that server'),
        async (a) => {
          const slots = await withConn(a, (c) => readSlots(c));
          if (a.json) {
            for (const s of slots) process.stdout.write(`${JSON.stringify(slotJson(s))}\n`);
            return;
          }
          if (slots.length === 0) {
            process.stdout.write('no replication slots\n');
            return;
          }
          const rows = slots.map((s) => [
            s.name,
            s.plugin ?? `(${s.slotType})`,
            s.database ?? '-',
            s.activePid === null ? '-' : String(s.activePid),
            showLsn(s.confirmedFlush),
            showLsn(s.restartLsn),
            showSize(s.retainedBytes),
            showSize(s.lagBytes),
          ]);
          process.stdout.write(
            `${table(['slot', 'plugin', 'database', 'active_pid', 'confirmed_flush_lsn', 'restart_lsn', 'wal_retained', 'lag'], rows)}\n`,
          );
        },
      )
      .command(
        'status [name]',
        'one slot in detail; with --duckdb also the LSN a walduck replica holds',
        (a) =>
          nameArg(a)
            .option('duckdb', {
              type: 'string',
              describe: 'a walduck DuckDB file: show the LSN stored there',
            })
            .option('warn-retained', {
              type: 'string',
              default: '1GB',
              describe: 'warn when the slot keeps more WAL than this (e.g. 512MB, 10GB)',
            })
            .option('json', { type: 'boolean', describe: 'print one JSON object' })
            .example(
              '$0 slot status -d shop -S walduck_shop --duckdb shop.duckdb',
              'slot and replica side by side',
            ),
        async (a) => {
          const name = pickName(a);
          const threshold = parseBytes(a['warn-retained']);
          if (threshold === undefined) {
            throw new UsageError(
              `--warn-retained ${JSON.stringify(a['warn-retained'])} is not a size like 512MB`,
            );
          }
          const s = await withConn(a, (c) => readSlot(c, name));
          if (!s)
            throw new SlotError('WALDUCK_SLOT_MISSING', `no replication slot named ${name}`, 'slot status');
          const duck = a.duckdb === undefined ? undefined : { lsn: await storedLsn(a.duckdb, name) };
          if (a.json) {
            const extra =
              duck === undefined
                ? {}
                : { duckdb: a.duckdb, duckdb_lsn: duck.lsn === undefined ? null : formatLsn(duck.lsn) };
            process.stdout.write(`${JSON.stringify({ ...slotJson(s), ...extra })}\n`);
          } else {
            const lines: [string, string][] = [
              ['slot', s.name],
              ['plugin', s.plugin ?? `(${s.slotType})`],
              ['type', `${s.slotType}${s.temporary ? ', temporary' : ''}`],
              ['database', s.database ?? '-'],
              ['active_pid', s.activePid === null ? '- (no client streaming)' : String(s.activePid)],
              ['confirmed_flush_lsn', showLsn(s.confirmedFlush)],
              ['restart_lsn', showLsn(s.restartLsn)],
              ['wal_retained', showSize(s.retainedBytes)],
              ['lag', showSize(s.lagBytes)],
              ['wal_status', s.walStatus ?? '-'],
            ];
            if (duck)
              lines.push([
                'duckdb_lsn',
                duck.lsn === undefined
                  ? `- (no row for ${name} in ${a.duckdb})`
                  : `${formatLsn(duck.lsn)} (${a.duckdb})`,
              ]);
            const w = Math.max(...lines.map(([k]) => k.length));
            process.stdout.write(lines.map(([k, v]) => `${k.padEnd(w)}  ${v}\n`).join(''));
          }
          if (duck?.lsn !== undefined && s.confirmedFlush !== null && s.confirmedFlush > duck.lsn) {
            warn(
              `the slot confirmed ${formatLsn(s.confirmedFlush)}, beyond the ${formatLsn(duck.lsn)} ${a.duckdb} holds: the changes between are gone for this replica`,
            );
          }
          if (s.retainedBytes !== null && s.retainedBytes > threshold) {
            warn(
              `slot ${name} retains ${formatBytes(s.retainedBytes)} of WAL (more than ${formatBytes(threshold)}): resume its consumer, or drop it if abandoned`,
            );
          }
        },
      )
      .demandCommand(1, 'name a slot action: create, drop, list or status')
      .example('$0 slot list -d shop', 'the slots of database shop'),
  );
}

/** How often a held session is checked (one IDENTIFY_SYSTEM round trip). */
const HOLD_CHECK_MS = 1000;

/**
 * Keeps the session, and with it a temporary slot, until SIGINT or SIGTERM. Nothing else would keep
 * the process alive or notice the server ending the session (pg_terminate_backend, a restart): the
 * slot would be gone while we claimed to hold it, and once the socket closed Node would quit with
 * exit code 13 and no word. So the session is checked every second; if it ended, one line, exit 1.
 */
async function holdSession(c: Connection, slot: string): Promise<void> {
  const wake = new Wake(HOLD_CHECK_MS, stopSignal());
  try {
    while ((await wake.wait()) === 'tick') {
      try {
        await c.identifySystem();
      } catch (err) {
        throw new TemporarySlotLost(slot, err);
      }
    }
  } finally {
    wake.close();
  }
}

class TemporarySlotLost extends WalduckError {
  override readonly name = 'TemporarySlotLost';
  readonly code = 'WALDUCK_SLOT_LOST';
  readonly phase = 'slot create';
  constructor(slot: string, cause: unknown) {
    // The command refused reports the earlier failure as its cause: that one says what happened.
    const root = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
    const why = oneLine(root instanceof Error ? root.message : String(root));
    super(`the session holding temporary slot ${slot} ended: ${why}; the server dropped the slot with it`, {
      cause,
    });
  }
}
