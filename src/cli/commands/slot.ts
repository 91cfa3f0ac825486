// walduck slot create|drop|list|status: the wal2json replication slots of a database, by hand.
//
// A slot is the server's promise to keep WAL from its restart_lsn on until a client confirms it:
// an abandoned slot keeps WAL forever and can fill the disk. `list` and `status` show how much each
// one holds back, so that is seen before it hurts.
import type { Argv } from 'yargs';
import {
  type Connection,
  type CreateReplicationSlotResult,
  connect,
  formatLsn,
  type Lsn,
  parseLsn,
} from '../../protocol/index.js';
import { Wake } from '../../replicator/wake.js';
import { quoteLiteral } from '../../sink/sql.js';
import { storedLsn } from '../duck.js';
import { UsageError } from '../errors.js';
import { formatBytes, parseBytes, table } from '../format.js';
import { log, oneLine, warn } from '../log.js';
import { type ConnectionArgs, connectionSettings, slotName, withConnection } from '../options.js';
import { stopSignal } from '../shutdown.js';

interface SlotRow {
  readonly name: string;
  readonly plugin: string | null;
  readonly type: string;
  readonly database: string | null;
  readonly temporary: boolean;
  readonly activePid: number | null;
  readonly restartLsn: Lsn | null;
  readonly confirmedFlushLsn: Lsn | null;
  /** WAL the server keeps for this slot: current WAL position - restart_lsn. */
  readonly retainedBytes: bigint | null;
  /** Decoded changes not yet confirmed: current WAL position - confirmed_flush_lsn. */
  readonly lagBytes: bigint | null;
  readonly walStatus: string | null;
}

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

async function readSlots(c: Connection, name?: string): Promise<SlotRow[]> {
  // pg_current_wal_lsn() fails on a standby; there the last received position is the WAL end.
  const sql = `SELECT slot_name, plugin, slot_type, database, temporary, active_pid, restart_lsn,
      confirmed_flush_lsn,
      pg_wal_lsn_diff(w.lsn, restart_lsn)::bigint,
      pg_wal_lsn_diff(w.lsn, confirmed_flush_lsn)::bigint,
      wal_status
    FROM pg_replication_slots,
      (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS lsn) w
    ${name === undefined ? '' : `WHERE slot_name = ${quoteLiteral(name)}`}
    ORDER BY slot_name`;
  const [r] = await c.query(sql);
  const lsn = (v: string | null | undefined) => (v ? (parseLsn(v) ?? null) : null);
  const big = (v: string | null | undefined) => (v ? BigInt(v) : null);
  return (r?.rows ?? []).map((row) => ({
    name: row[0] ?? '',
    plugin: row[1] ?? null,
    type: row[2] ?? '',
    database: row[3] ?? null,
    temporary: row[4] === 't',
    activePid: row[5] ? Number(row[5]) : null,
    restartLsn: lsn(row[6]),
    confirmedFlushLsn: lsn(row[7]),
    retainedBytes: big(row[8]),
    lagBytes: big(row[9]),
    walStatus: row[10] ?? null,
  }));
}

const showLsn = (l: Lsn | null) => (l === null ? '-' : formatLsn(l));
const showSize = (b: bigint | null) => (b === null ? '-' : `${b} (${formatBytes(b)})`);

function slotJson(s: SlotRow): Record<string, unknown> {
  return {
    slot: s.name,
    plugin: s.plugin,
    type: s.type,
    database: s.database,
    temporary: s.temporary,
    active_pid: s.activePid,
    restart_lsn: s.restartLsn === null ? null : formatLsn(s.restartLsn),
    confirmed_flush_lsn: s.confirmedFlushLsn === null ? null : formatLsn(s.confirmedFlushLsn),
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
            if (a['if-exists'] && (await readSlots(c, name)).length === 0) {
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
            s.plugin ?? `(${s.type})`,
            s.database ?? '-',
            s.activePid === null ? '-' : String(s.activePid),
            showLsn(s.confirmedFlushLsn),
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
          const [s] = await withConn(a, (c) => readSlots(c, name));
          if (!s) throw new SlotMissing(name);
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
              ['plugin', s.plugin ?? `(${s.type})`],
              ['type', `${s.type}${s.temporary ? ', temporary' : ''}`],
              ['database', s.database ?? '-'],
              ['active_pid', s.activePid === null ? '- (no client streaming)' : String(s.activePid)],
              ['confirmed_flush_lsn', showLsn(s.confirmedFlushLsn)],
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
          if (duck?.lsn !== undefined && s.confirmedFlushLsn !== null && s.confirmedFlushLsn > duck.lsn) {
            warn(
              `the slot confirmed ${formatLsn(s.confirmedFlushLsn)}, beyond the ${formatLsn(duck.lsn)} ${a.duckdb} holds: the changes between are gone for this replica`,
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

/**
 * Creates a wal2json slot; with `ifNotExists` an existing wal2json slot of that name is fine (undefined
 * is returned), one with another plugin is not.
 */
export async function ensureSlot(
  c: Connection,
  name: string,
  o: { ifNotExists: boolean; temporary?: boolean },
): Promise<CreateReplicationSlotResult | undefined> {
  if (o.ifNotExists) {
    const [existing] = await readSlots(c, name);
    if (existing) {
      if (existing.plugin !== 'wal2json') {
        throw new SlotPluginMismatch(name, existing.plugin ?? `none (${existing.type})`);
      }
      return undefined;
    }
  }
  return c.createReplicationSlot(name, {
    plugin: 'wal2json',
    snapshot: 'noexport',
    ...(o.temporary ? { temporary: true } : {}),
  });
}

class SlotPluginMismatch extends Error {
  override readonly name = 'SlotPluginMismatch';
  readonly phase = 'slot';
  constructor(slot: string, plugin: string) {
    super(`slot ${slot} exists with plugin ${plugin}, not wal2json: choose another slot name`);
  }
}

class SlotMissing extends Error {
  override readonly name = 'SlotMissing';
  readonly phase = 'slot status';
  constructor(slot: string) {
    super(`no replication slot named ${slot}`);
  }
}

class TemporarySlotLost extends Error {
  override readonly name = 'TemporarySlotLost';
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
