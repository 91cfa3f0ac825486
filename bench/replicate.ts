// End-to-end replication benchmark: `walduck replicate --endpos` into a fresh DuckDB file (committed
// and acknowledged) beside `pg_recvlogical -f /dev/null` over the same WAL range, same plugin options,
// in the same run. Slots for both are created before each workload, so both read the same bytes.
//
//   node dist/bench/replicate.js [--rows 1000000] [--repeat 3] [--formats 2,1]
//
// Prints a Markdown table and writes it with the raw figures (JSON) under bench/results/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterInfo,
  clusterEnv,
  conninfo,
  psql,
  startCluster,
  stopCluster,
} from '../src/cluster/throwaway.js';
import { wal2jsonOptions } from '../src/wal2json/index.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const ROWS = Number(arg('rows', '1000000'));
const REPEAT = Number(arg('repeat', '3'));
const FORMATS = arg('formats', '2,1').split(',').map(Number) as (1 | 2)[];
const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin', 'walduck.js');

interface Timed {
  readonly seconds: number;
  readonly userSys: number;
  readonly maxRssMb: number;
}

/** GNU time gives wall, CPU and peak RSS of a child without instrumenting it. */
function timed(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIMED %e %U %S %M', cmd, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('TIMED '));
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const [, e, u, s, m] = line.split(' ').map(Number);
  return { seconds: e ?? 0, userSys: (u ?? 0) + (s ?? 0), maxRssMb: (m ?? 0) / 1024 };
}

interface Workload {
  readonly name: string;
  readonly rows: number;
  readonly prepare?: (info: ClusterInfo) => void;
  readonly run: (info: ClusterInfo, dir: string) => void;
}

const TABLE = 'CREATE TABLE bench (id bigint PRIMARY KEY, a int, t text, n numeric(12,2), ts timestamptz)';
const fill = (from: number, to: number) =>
  `INSERT INTO bench SELECT g, g, 'text value ' || g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(${from}, ${to}) g`;

const workloads: Workload[] = [
  { name: `${ROWS} inserts, 1 transaction`, rows: ROWS, run: (info) => psql(info, fill(1, ROWS)) },
  {
    name: `${ROWS} inserts, ${ROWS / 100} transactions of 100`,
    rows: ROWS,
    run: (info, dir) => {
      const script = join(dir, 'tx100.sql');
      const lines: string[] = [];
      for (let i = 0; i < ROWS; i += 100) lines.push(`${fill(i + 1, i + 100)};`);
      writeFileSync(script, lines.join('\n'));
      const env = { ...process.env, ...clusterEnv(info) };
      const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', script], {
        env,
        stdio: 'ignore',
      });
      if (r.status !== 0) throw new Error('workload failed');
    },
  },
  {
    name: `${ROWS / 5} updates + ${ROWS / 5} deletes`,
    rows: (ROWS / 5) * 2,
    prepare: (info) => psql(info, fill(1, ROWS / 5)),
    run: (info) => {
      psql(info, 'UPDATE bench SET a = a + 1, t = t || $$u$$');
      psql(info, 'DELETE FROM bench');
    },
  },
];

interface Row {
  workload: string;
  format: string;
  rows: number;
  recvlogical: Timed[];
  walduck: Timed[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const info = await startCluster();
  const dir = mkdtempSync(join(tmpdir(), 'walduck-bench-'));
  const env = { ...process.env, ...clusterEnv(info) };
  const source = conninfo(info, 'superuser', { host: info.socketDir });
  const results: Row[] = [];
  try {
    for (const w of workloads) {
      for (const format of FORMATS) {
        const label = format === 1 ? 'v1 whole-transaction' : 'v2';
        const row: Row = { workload: w.name, format: label, rows: w.rows, recvlogical: [], walduck: [] };
        for (let rep = 0; rep < REPEAT; rep++) {
          psql(info, `DROP TABLE IF EXISTS bench; ${TABLE}`);
          w.prepare?.(info);
          const file = join(dir, `r${rep}.duckdb`);
          rmSync(file, { force: true });
          const wd = [
            'replicate',
            '--source',
            source,
            '--duckdb',
            file,
            '--tables',
            'bench',
            '--slot',
            'bench_wd',
            '--format-version',
            String(format),
          ];
          if (format === 1) wd.push('--no-write-in-chunks');
          // Both slots exist before the workload: both contenders read the same WAL range.
          const init = spawnSync(process.execPath, [bin, ...wd, '--until-caught-up'], {
            env,
            encoding: 'utf8',
          });
          if (init.status !== 0) throw new Error(`walduck init failed: ${init.stderr}`);
          psql(info, "SELECT pg_create_logical_replication_slot('bench_rl', 'wal2json')");
          w.run(info, dir);
          const endpos = psql(info, 'SELECT pg_current_wal_lsn()');
          psql(info, 'CHECKPOINT');
          const opts = wal2jsonOptions({
            formatVersion: format,
            tables: [{ schema: 'public', table: 'bench' }],
          }).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
          // Alternate who goes first, so neither always gets the warmer cache.
          const runRecv = () =>
            row.recvlogical.push(
              timed(
                'pg_recvlogical',
                ['-d', source, '-S', 'bench_rl', '--start', '--endpos', endpos, '-f', '/dev/null', ...opts],
                env,
              ),
            );
          const runWd = () =>
            row.walduck.push(timed(process.execPath, [bin, ...wd, '--endpos', endpos], env));
          if (rep % 2 === 0) {
            runRecv();
            runWd();
          } else {
            runWd();
            runRecv();
          }
          psql(
            info,
            "SELECT pg_drop_replication_slot('bench_rl'); SELECT pg_drop_replication_slot('bench_wd')",
          );
        }
        results.push(row);
        report(results);
      }
    }
  } finally {
    stopCluster(info);
    rmSync(dir, { recursive: true, force: true });
  }
  const md = report(results);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const stamp = new Date().toISOString().slice(0, 10);
  writeFileSync(join(root, 'bench', 'results', `replicate-${stamp}.md`), md);
  writeFileSync(
    join(root, 'bench', 'results', `replicate-${stamp}.json`),
    JSON.stringify({ machine: machine(), results }, null, 2),
  );
}

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, PostgreSQL ${spawnSync('psql', ['--version'], { encoding: 'utf8' }).stdout.trim()}`;
}

function report(results: readonly Row[]): string {
  const lines = [
    `Machine: ${machine()}; median of ${REPEAT} (min–max)`,
    '',
    '| workload | format | pg_recvlogical s | walduck s | walduck rows/s | ratio (recvlogical s / walduck s) | walduck CPU s | walduck peak RSS MB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const rl = r.recvlogical.map((t) => t.seconds);
    const wd = r.walduck.map((t) => t.seconds);
    const span = (xs: number[]) =>
      `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    lines.push(
      `| ${r.workload} | ${r.format} | ${span(rl)} | ${span(wd)} | ${Math.round(r.rows / median(wd))} | ${(median(rl) / median(wd)).toFixed(2)} | ${median(r.walduck.map((t) => t.userSys)).toFixed(1)} | ${Math.round(Math.max(...r.walduck.map((t) => t.maxRssMb)))} |`,
    );
  }
  const md = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${md}`);
  return md;
}

await main();
