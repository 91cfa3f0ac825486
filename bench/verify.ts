// `walduck verify` cost against table size: one table of N rows (default 1M; pass 10000000 for the
// opt-in 10M run) replicated by walduck, then, in the same run and on the same data:
//   - `SELECT count(*)` at the source (psql; the floor: one sequential scan, nothing computed);
//   - `COPY t TO STDOUT > /dev/null` (psql; one scan that also prints every value as text);
//   - `walduck verify` (the built bin, whole command; and its compare phase alone, both sides at once);
//   - a full export-and-compare: `COPY t TO STDOUT (FORMAT csv)` into a file, then DuckDB reads it with
//     the sink's own conversions and compares with EXCEPT ALL both ways (every row leaves PostgreSQL).
// Usage: npm run build && node dist/bench/verify.js [rows]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql, psqlArgs, startCluster, stopCluster } from '../src/cluster/throwaway.js';
import { quoteLiteral } from '../src/sink/sql.js';
import { mapType } from '../src/sink/type-map.js';
import type { VerifyReport } from '../src/verify/verify.js';
import { binPath } from '../test/helpers/paths.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
/** Runs of each contender (best shown); 1 for the 10M run. */
const REPEAT = Number(process.argv[3] ?? 2);

const info = await startCluster();
const dir = mkdtempSync(join(tmpdir(), 'walduck-bench-verify-'));
const seconds = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
};
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
};
try {
  psql(
    info,
    `CREATE TABLE t (id bigint PRIMARY KEY, account int, amount numeric(12,2), note text, created_at timestamptz,
       settled boolean, ref uuid, ratio double precision, deleted_at timestamptz);
     INSERT INTO t SELECT g, g % 977, (g * 37 % 100000) + (g % 100) / 100.0, 'payment ' || g || ' for order #' || g * 7,
       '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g % 3 = 0,
       md5(g::text)::uuid, g / 7.0, NULL FROM generate_series(1, ${ROWS}) g`,
  );
  psql(info, 'VACUUM ANALYZE t');
  const file = join(dir, 'v.duckdb');
  const src = conninfo(info);
  run(process.execPath, [
    binPath,
    'replicate',
    '--source',
    src,
    '--duckdb',
    file,
    '--tables',
    't',
    '--until-caught-up',
  ]);

  const count = Math.min(
    ...[1, 2, 3].map(() => seconds(() => run('psql', [...psqlArgs(info), '-c', 'SELECT count(*) FROM t']))),
  );
  const copyOut = Math.min(
    ...Array.from({ length: REPEAT }, () =>
      seconds(() =>
        run('sh', ['-c', 'psql "$@" -c "COPY t TO STDOUT" > /dev/null', 'sh', ...psqlArgs(info)]),
      ),
    ),
  );
  const verifies: { whole: number; compare: number; parts: string }[] = [];
  for (let i = 0; i < REPEAT; i++) {
    let rep: VerifyReport | undefined;
    const whole = seconds(() => {
      rep = JSON.parse(
        run(process.execPath, [binPath, 'verify', '--source', src, '--duckdb', file, '--json']),
      ) as VerifyReport;
    });
    if (!rep?.equal) throw new Error('verify found a difference');
    const t = rep.tables[0];
    // Where the whole command's time went besides the compare phase.
    const parts = `catch-up ${rep.catchUp.seconds.toFixed(2)} s, source side ${t?.sourceSeconds.toFixed(2)} s, replica side ${t?.replicaSeconds.toFixed(2)} s, snapshot held ${rep.snapshotSeconds.toFixed(2)} s, verify() ${rep.seconds.toFixed(2)} s`;
    verifies.push({ whole, compare: t?.seconds ?? 0, parts });
  }
  const csv = join(dir, 't.csv');
  const exportCompare = async (): Promise<number> => {
    const t0 = performance.now();
    run('sh', ['-c', `psql "$@" -c "COPY t TO STDOUT (FORMAT csv)" > ${csv}`, 'sh', ...psqlArgs(info)]);
    const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    try {
      const types = [
        'int8',
        'int4',
        'numeric',
        'text',
        'timestamptz',
        'bool',
        'uuid',
        'float8',
        'timestamptz',
      ];
      const typmods = [-1, -1, (12 << 16) + 2 + 4, -1, -1, -1, -1, -1, -1];
      const conv = types
        .map((t, i) => mapType({ typname: t, typmod: typmods[i] ?? -1, typtype: 'b' }).convert(`column${i}`))
        .join(', ');
      const cols = `{${types.map((_, i) => `'column${i}': 'VARCHAR'`).join(', ')}}`;
      const expected = `SELECT ${conv} FROM read_csv(${quoteLiteral(csv)}, header = false, columns = ${cols})`;
      for (const q of [`${expected} EXCEPT ALL SELECT * FROM t`, `SELECT * FROM t EXCEPT ALL ${expected}`]) {
        const n = (await conn.runAndReadAll(`SELECT count(*) FROM (${q})`)).getRows()[0]?.[0];
        if (Number(n) !== 0) throw new Error(`export-and-compare found ${n} differing rows`);
      }
    } finally {
      conn.closeSync();
      db.closeSync();
    }
    return (performance.now() - t0) / 1000;
  };
  const exports: number[] = [];
  for (let i = 0; i < REPEAT; i++) exports.push(await exportCompare());
  const best = (xs: number[]) => Math.min(...xs);
  const vWhole = best(verifies.map((v) => v.whole));
  const vCompare = best(verifies.map((v) => v.compare));
  const ex = best(exports);
  const line = (name: string, s: number) =>
    `| ${name} | ${s.toFixed(2)} | ${(s / count).toFixed(1)}× | ${(s / copyOut).toFixed(1)}× | ${(s / ex).toFixed(2)}× |`;
  console.log(`${ROWS} rows, best of runs (count 3, others ${REPEAT})`);
  console.log('| | seconds | vs count(*) | vs COPY out | vs export-and-compare |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(line('`SELECT count(*)` at the source', count));
  console.log(line('`COPY t TO STDOUT > /dev/null` at the source', copyOut));
  console.log(line('`walduck verify`, whole command', vWhole));
  console.log(line('`walduck verify`, compare phase', vCompare));
  console.log(line('export (COPY csv) and compare (DuckDB EXCEPT ALL)', ex));
  for (const v of verifies) console.log(`verify run: whole ${v.whole.toFixed(2)} s; ${v.parts}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  stopCluster(info);
}
