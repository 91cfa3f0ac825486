// walduck demo: the first command to run. A throwaway PostgreSQL cluster (the test harness's), a sample
// table, a small writer inserting, updating and deleting for a few seconds while walduck replicates
// into a DuckDB file, then a few DuckDB queries over the replica — checked against PostgreSQL — and
// the cluster removed. Nothing of it outlives the command except, with --keep, the DuckDB file.

import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import {
  type ClusterInfo,
  conninfo,
  findBinDir,
  psql,
  startCluster,
  stopCluster,
} from '../../cluster/throwaway.js';
import { type Connection, connect, parseConnectionString, WalduckError } from '../../protocol/index.js';
import type { LoopFigures } from '../../replicator/loop.js';
import type { ReplicateResult } from '../../replicator/replicate.js';
import { withDuckDb } from '../../sink/duckdb-file.js';
import { UsageError } from '../errors.js';
import { table } from '../format.js';
import { log, warn } from '../log.js';
import { ProgressDisplay, summaryLine } from '../progress.js';
import { stopSignal } from '../shutdown.js';

const SLOT = 'walduck_demo';

export class DemoError extends WalduckError {
  override readonly name = 'DemoError';
  readonly code = 'WALDUCK_DEMO';
  readonly phase = 'demo';
}

export function demoCommand(y: Argv): Argv {
  return y.command(
    'demo',
    'start a throwaway PostgreSQL, write to it, replicate into DuckDB, query the replica, clean up',
    (a) =>
      a
        .option('duckdb', {
          type: 'string',
          default: 'walduck-demo.duckdb',
          describe: 'the DuckDB file to replicate into (must not exist yet)',
        })
        .option('keep', { type: 'boolean', describe: 'keep the DuckDB file afterwards (default: remove it)' })
        .option('seconds', { type: 'number', default: 5, describe: 'how long the writer runs' })
        .example('$0 demo', 'the whole tour, a few seconds long')
        .example('$0 demo --keep && duckdb walduck-demo.duckdb', 'then look at the replica yourself'),
    async (a) => {
      if (!(a.seconds > 0 && a.seconds <= 3600)) throw new UsageError('--seconds must be between 0 and 3600');
      const file = resolve(a.duckdb);
      if (existsSync(file)) {
        throw new DemoError(`${a.duckdb} exists already: remove it, or give another --duckdb FILE`);
      }
      checkPrerequisites();
      const signal = stopSignal();
      say('starting a throwaway PostgreSQL cluster (initdb, wal_level=logical, TLS, a role per auth method)');
      const info = await startCluster();
      let done = false;
      try {
        say(`cluster up: port ${info.port}, data in ${info.dir}`);
        await runDemo(info, file, a.seconds, signal);
        done = true;
      } finally {
        stopCluster(info);
        say(`cluster stopped and ${info.dir} removed`);
        if (!a.keep || !done) {
          for (const f of [file, `${file}.wal`]) rmSync(f, { force: true });
        } else
          say(`kept ${a.duckdb}: open it with \`duckdb ${a.duckdb}\` (tables main.orders and walduck.state)`);
      }
    },
  );
}

function say(text: string): void {
  process.stderr.write(`walduck demo: ${text}\n`);
}

/** What a newcomer needs installed; one line naming the package when something is missing. */
function checkPrerequisites(): void {
  let bin: string;
  try {
    bin = findBinDir();
  } catch (err) {
    throw new DemoError(
      `${(err as Error).message}; walduck demo also needs wal2json (postgresql-15-wal2json)`,
    );
  }
  const missing = ['initdb', 'pg_ctl', 'postgres'].filter((b) => !existsSync(join(bin, b)));
  if (missing.length > 0) {
    throw new DemoError(
      `PostgreSQL server binaries not found in ${bin} (${missing.join(', ')} missing): install PostgreSQL 15 or newer with wal2json (Debian/Ubuntu: apt-get install postgresql-15 postgresql-15-wal2json), or point PG_BINDIR at its bin directory`,
    );
  }
  const lib = spawnSync(join(bin, 'pg_config'), ['--pkglibdir'], { encoding: 'utf8' });
  const pkglib = lib.status === 0 ? lib.stdout.trim() : join(bin, '..', 'lib');
  if (!existsSync(join(pkglib, 'wal2json.so'))) {
    throw new DemoError(
      `the wal2json output plugin is not installed (no wal2json.so in ${pkglib}): install it (Debian/Ubuntu: apt-get install postgresql-15-wal2json)`,
    );
  }
  for (const [tool, args, pkg] of [
    ['psql', ['--version'], 'postgresql-client'],
    ['openssl', ['version'], 'openssl'],
  ] as const) {
    if (spawnSync(tool, args, { stdio: 'ignore' }).status !== 0) {
      throw new DemoError(`${tool} is not on PATH: install it (Debian/Ubuntu: apt-get install ${pkg})`);
    }
  }
}

async function runDemo(info: ClusterInfo, file: string, seconds: number, signal: AbortSignal): Promise<void> {
  psql(
    info,
    `CREATE TABLE orders (
       id bigint PRIMARY KEY,
       customer text NOT NULL,
       amount numeric(12,2) NOT NULL,
       status text NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now());
     GRANT ALL ON orders TO wd_scram;`,
  );
  say(`table orders created; writing for ${seconds} s while replicating into ${file}`);
  const source = conninfo(info, 'scram-sha-256');
  const progress = new ProgressDisplay({ command: 'demo' });
  let offset = { changes: 0, transactions: 0, bytes: 0 };
  const onProgress = (p: LoopFigures) =>
    progress.update({
      changes: offset.changes + p.changes,
      transactions: offset.transactions + p.transactions,
      bytes: offset.bytes + p.bytes,
      lsn: p.applied,
      serverEnd: p.serverEnd,
    });
  // Loaded when run, as replicate's own command does: it pulls in DuckDB's native module, which the
  // other commands' start-up would otherwise pay for (~0.1 s).
  const { replicate } = await import('../../replicator/replicate.js');
  const base = {
    source,
    duckdb: file,
    tables: [{ schema: 'public', table: 'orders' }],
    slot: SLOT,
    formatVersion: 2 as const,
    writeInChunks: true,
    batchChanges: 10_000,
    batchMs: 250,
    log: log.replicate,
    warn,
    onProgress,
  };

  // Phase 0: create the slot and record its start in DuckDB, so that every write below is replicated.
  // Phase 1: replicate while the writer writes; when it is done, stop cleanly (whole transactions
  // committed, the rest left to the slot). Phase 2: resume from what DuckDB recorded and catch up to
  // the server's WAL position — the same exactly-once restart a crashed replicate goes through.
  await replicate({ ...base, stopAt: { kind: 'caught-up' }, signal });
  const phase1Stop = new AbortController();
  const phase1 = replicate({
    ...base,
    stopAt: { kind: 'never' },
    signal: AbortSignal.any([signal, phase1Stop.signal]),
  });
  phase1.catch(() => {});
  const written = await writer(parseConnectionString(source, {}), seconds, signal).finally(() =>
    phase1Stop.abort(),
  );
  const first = await phase1;
  offset = { changes: first.changes, transactions: first.transactions, bytes: first.bytes };
  let last: ReplicateResult = first;
  if (!signal.aborted) last = await replicate({ ...base, stopAt: { kind: 'caught-up' }, signal });
  const stats = progress.finish(
    {
      changes: offset.changes + (last === first ? 0 : last.changes),
      transactions: offset.transactions + (last === first ? 0 : last.transactions),
      bytes: offset.bytes + (last === first ? 0 : last.bytes),
      lsn: last.applied,
      serverEnd: last.serverEnd,
    },
    { slot: SLOT, startLsn: first.startedAt, stoppedBy: last.stoppedBy },
  );
  say(
    `writer: ${written.transactions} transactions (${written.inserts} inserts, ${written.updates} updates, ${written.deletes} deletes)`,
  );
  process.stderr.write(`${summaryLine(stats)}\n`);
  if (signal.aborted) return;
  await showReplica(info, file);
}

interface Written {
  transactions: number;
  inserts: number;
  updates: number;
  deletes: number;
}

/** Small transactions for `seconds`: a few new orders, some paid or shipped, a cancelled one deleted. */
async function writer(
  settings: ReturnType<typeof parseConnectionString>,
  seconds: number,
  signal: AbortSignal,
): Promise<Written> {
  const conn: Connection = await connect(settings, { replication: false, log: log.protocol });
  const w: Written = { transactions: 0, inserts: 0, updates: 0, deletes: 0 };
  const until = Date.now() + seconds * 1000;
  const customers = ['ada', 'grace', 'edsger', 'barbara', 'ken', 'margaret'];
  let next = 1;
  try {
    while (Date.now() < until && !signal.aborted) {
      const t = w.transactions;
      const first = next;
      next += 5;
      const c = customers[t % customers.length] ?? 'ada';
      // One simple-query string is one transaction: all of it commits or none.
      const [, upd, del] = await conn.query(
        `INSERT INTO orders (id, customer, amount, status)
           SELECT g, '${c}', round((g * 7919 % 100000) / 100.0, 2), 'new' FROM generate_series(${first}, ${next - 1}) g;
         UPDATE orders SET status = CASE WHEN status = 'new' THEN 'paid' ELSE 'shipped' END, updated_at = now()
           WHERE id % 3 = ${t % 3} AND status <> 'shipped' AND id > ${Math.max(0, first - 40)};
         DELETE FROM orders WHERE id = ${first - 17}`,
      );
      w.transactions++;
      w.inserts += 5;
      w.updates += Number(/\d+$/.exec(upd?.command ?? '')?.[0] ?? 0);
      w.deletes += Number(/\d+$/.exec(del?.command ?? '')?.[0] ?? 0);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await conn.close().catch(() => {});
  }
  return w;
}

const QUERIES: readonly [string, string][] = [
  ['how many orders, and what they are worth', 'SELECT count(*) AS orders, sum(amount) AS total FROM orders'],
  [
    'orders by status',
    'SELECT status, count(*) AS orders, sum(amount) AS total FROM orders GROUP BY status ORDER BY status',
  ],
  [
    'best customers',
    'SELECT customer, count(*) AS orders, sum(amount) AS total FROM orders GROUP BY customer ORDER BY total DESC LIMIT 3',
  ],
  [
    'the latest changes',
    'SELECT id, customer, amount, status, updated_at FROM orders ORDER BY updated_at DESC, id DESC LIMIT 5',
  ],
  [
    "where walduck is: the slot's LSN, committed with the rows it covers",
    'SELECT slot, lsn FROM walduck.state',
  ],
];

async function showReplica(info: ClusterInfo, file: string): Promise<void> {
  const pg = psql(info, 'SELECT count(*), coalesce(sum(amount), 0) FROM orders').split('|');
  await withDuckDb(file, true, async (query) => {
    for (const [title, sql] of QUERIES) {
      const r = await query(sql);
      process.stdout.write(`\n-- ${title}\n${sql};\n\n`);
      process.stdout.write(
        `${table(
          r.columns,
          r.rows.map((row) => row.map(show)),
        )}\n`,
      );
    }
    const [[count, total] = []] = (await query('SELECT count(*), coalesce(sum(amount), 0) FROM orders')).rows;
    const same = String(count) === pg[0] && show(total) === pg[1];
    process.stdout.write(
      `\nPostgreSQL has ${pg[0]} orders worth ${pg[1]}; the DuckDB replica ${same ? 'has exactly the same' : `has ${String(count)} worth ${show(total)}`}.\n`,
    );
    if (!same) throw new DemoError('the replica differs from PostgreSQL: please report this as a bug');
  });
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return typeof v === 'object' ? String(v) : String(v);
}
