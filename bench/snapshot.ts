// Initial snapshot throughput: `walduck replicate --until-caught-up` on a new DuckDB file copying one
// table of N rows (default 1M; pass 10000000 for the opt-in 10M run), beside
// `psql -c "COPY t TO STDOUT" > /dev/null` on the same table in the same run (the reference: the
// server producing the same text, and a C client reading it). walduck's time is the snapshot phase
// as it logs it (slot export to DuckDB commit); the whole process's wall time is shown too.
// The amount column is numeric(12,2) by default; WALDUCK_BENCH_NUMERIC='numeric(20,4)' shows the cost
// of DuckDB's own text-to-DECIMAL cast above 18 digits (about 7 µs a value on this machine, in the
// streamed path as much as here).
// Usage: npm run build && node dist/bench/snapshot.js [rows] [jobs,jobs,...]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conninfo, psql, startCluster, stopCluster } from '../src/cluster/throwaway.js';
import { binPath } from '../test/helpers/paths.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const JOBS = (process.argv[3] ?? '1,2,4').split(',').map(Number);
const MB = 1024 * 1024;
const NUMERIC = process.env.WALDUCK_BENCH_NUMERIC ?? 'numeric(12,2)';
if (!/^numeric\(\d+,\d+\)$/.test(NUMERIC))
  throw new Error(`WALDUCK_BENCH_NUMERIC=${NUMERIC}: numeric(p,s) expected`);

const info = await startCluster();
const dir = mkdtempSync(join(tmpdir(), 'walduck-bench-snap-'));
try {
  // A typical OLTP row: int key, bigint, numeric, text, timestamptz, boolean, uuid, a NULL.
  psql(
    info,
    `CREATE TABLE t (id bigint PRIMARY KEY, account int, amount ${NUMERIC}, note text, created_at timestamptz,
       settled boolean, ref uuid, deleted_at timestamptz);
     INSERT INTO t SELECT g, g % 977, (g * 37 % 100000) + (g % 100) / 100.0, 'payment ' || g || ' for order #' || g * 7,
       '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g % 3 = 0,
       md5(g::text)::uuid, NULL FROM generate_series(1, ${ROWS}) g`,
  );
  psql(info, 'VACUUM ANALYZE t');
  const copyRef = (): { s: number; bytes: number } => {
    const args = ['-X', '-h', info.socketDir, '-p', String(info.port), '-U', 'postgres', '-d', info.database];
    const t0 = performance.now();
    const r = spawnSync('sh', ['-c', 'psql "$@" -c "COPY t TO STDOUT" > /dev/null', 'sh', ...args]);
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`psql COPY failed: ${r.stderr}`);
    return { s, bytes: 0 };
  };
  const size = spawnSync(
    'sh',
    [
      '-c',
      'psql "$@" -c "COPY t TO STDOUT" | wc -c',
      'sh',
      '-X',
      '-h',
      info.socketDir,
      '-p',
      String(info.port),
      '-U',
      'postgres',
      '-d',
      info.database,
    ],
    { encoding: 'utf8' },
  );
  const bytes = Number(size.stdout.trim());
  copyRef(); // warm the cache
  const results: Record<string, unknown>[] = [];
  for (const jobs of JOBS) {
    const ref = copyRef();
    const file = join(dir, `snap${jobs}.duckdb`);
    const t0 = performance.now();
    // GNU time, when there, reports the process's peak RSS and CPU seconds (DuckDB's threads included):
    // on a shared machine the CPU compares where wall times do not.
    const time = existsSync('/usr/bin/time')
      ? ['/usr/bin/time', '-f', 'walduck-maxrss-kb %M walduck-cpu %U %S']
      : [];
    const [cmd = process.execPath, ...pre] = [...time, process.execPath];
    const r = spawnSync(
      cmd,
      [
        ...pre,
        binPath,
        'replicate',
        '--source',
        conninfo(info, 'scram-sha-256'),
        '--duckdb',
        file,
        '--tables',
        't',
        '--slot',
        `bench_${jobs}`,
        '--until-caught-up',
        '--snapshot-jobs',
        String(jobs),
      ],
      { encoding: 'utf8', env: { ...process.env, DEBUG: 'walduck:replicate' } },
    );
    const wall = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`walduck failed: ${r.stderr}`);
    const m = /snapshot committed: (\d+) rows, [\d.]+ MB in ([\d.]+) s/.exec(r.stderr);
    if (!m || Number(m[1]) !== ROWS) throw new Error(`no snapshot line with ${ROWS} rows: ${r.stderr}`);
    const s = Number(m[2]);
    const rssKb = /walduck-maxrss-kb (\d+)/.exec(r.stderr)?.[1];
    const cpu = /walduck-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
    const ref2 = copyRef();
    const refS = (ref.s + ref2.s) / 2;
    results.push({
      jobs,
      numeric: NUMERIC,
      rows: ROWS,
      mb: +(bytes / MB).toFixed(1),
      walduck_s: +s.toFixed(3),
      walduck_wall_s: +wall.toFixed(3),
      walduck_rows_per_s: Math.round(ROWS / s),
      walduck_mb_per_s: +(bytes / MB / s).toFixed(1),
      psql_copy_s: +refS.toFixed(3),
      psql_rows_per_s: Math.round(ROWS / refS),
      psql_mb_per_s: +(bytes / MB / refS).toFixed(1),
      ratio: +(refS / s).toFixed(2),
      peak_rss_mb: rssKb ? Math.round(Number(rssKb) / 1024) : null,
      walduck_cpu_s: cpu ? +(Number(cpu[1]) + Number(cpu[2])).toFixed(2) : null,
    });
    rmSync(file, { force: true });
    psql(info, `SELECT pg_drop_replication_slot('bench_${jobs}')`);
  }
  console.table(results);
  console.log(JSON.stringify({ bench: 'snapshot', results }));
} finally {
  stopCluster(info);
  rmSync(dir, { recursive: true, force: true });
}
