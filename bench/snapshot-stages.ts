// Where the snapshot's time goes, stage by stage, in CPU seconds (wall time is shown too, but on a
// shared machine only CPU compares). On the table of bench/snapshot.ts:
//   server  the backend's CPU for COPY … (FORMAT csv), read by psql into /dev/null (the reference)
//   node    walduck's protocol client receiving the same COPY and dropping it (+ the backend's CPU)
//   spool   the same, writing the segments as the snapshot does
//   duckdb  loading those segments with walduck's SQL, with DuckDB's default threads and with one, then
//           COMMIT and CHECKPOINT (DuckDB's threads are this process's CPU; the checkpoint is work the
//           replicate does later, at its next checkpoint or when it closes the file)
// Usage: npm run build && node dist/bench/snapshot-stages.js [rows] [segment MiB]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql, startCluster, stopCluster } from '../src/cluster/throwaway.js';
import { connect, parseConnectionString } from '../src/protocol/index.js';
import type { CsvSegment } from '../src/sink/csv-load.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
process.env.WALDUCK_SNAPSHOT_SEGMENT_BYTES = String(Number(process.argv[3] ?? 16) * 1024 * 1024);
const { CsvSpool } = await import('../src/snapshot/spool.js');

const ticks = (pid: number, children = false): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const i = children ? 13 : 11;
  return (Number(x[i]) + Number(x[i + 1])) / 100;
};
const own = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const row = (stage: string, wall: number, cpu: number, server: number) =>
  console.log(
    `${stage.padEnd(44)} wall ${wall.toFixed(2)} s  node+duckdb CPU ${cpu.toFixed(2)} s  backend CPU ${server.toFixed(2)} s`,
  );

const info = await startCluster();
const dir = mkdtempSync(join(tmpdir(), 'walduck-stages-'));
try {
  psql(
    info,
    `CREATE TABLE t (id bigint PRIMARY KEY, account int, amount numeric(12,2), note text, created_at timestamptz,
       settled boolean, ref uuid, deleted_at timestamptz);
     INSERT INTO t SELECT g, g % 977, (g * 37 % 100000) + (g % 100) / 100.0, 'payment ' || g || ' for order #' || g * 7,
       '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g % 3 = 0,
       md5(g::text)::uuid, NULL FROM generate_series(1, ${ROWS}) g`,
  );
  psql(info, 'VACUUM ANALYZE t');
  const args = ['-X', '-h', info.socketDir, '-p', String(info.port), '-U', 'postgres', '-d', info.database];
  for (const fmt of ['', ' (FORMAT csv)', '', ' (FORMAT csv)']) {
    const before = ticks(info.pid, true);
    const t0 = performance.now();
    spawnSync('sh', ['-c', `psql "$@" -c "COPY t TO STDOUT${fmt}" > /dev/null`, 'sh', ...args]);
    row(`psql COPY${fmt} > /dev/null`, (performance.now() - t0) / 1000, 0, ticks(info.pid, true) - before);
  }
  const settings = parseConnectionString(conninfo(info, 'superuser'), process.env);
  for (const spooling of [false, true]) {
    const conn = await connect(settings, { replication: false });
    const spool = CsvSpool.create(join(dir, 'x.duckdb'));
    if (!spool) throw new Error('no spool');
    const segments: CsvSegment[] = [];
    let seg = spool.open();
    const b0 = ticks(conn.backendPid);
    const c0 = own();
    const t0 = performance.now();
    for await (const rows of conn.copyOut('COPY (SELECT * FROM t) TO STDOUT (FORMAT csv)')) {
      if (!spooling) continue;
      seg.write(rows);
      if (seg.full) {
        segments.push(seg.close());
        seg = spool.open();
      }
    }
    segments.push(seg.close());
    row(
      spooling ? 'walduck client, segments written' : 'walduck client, dropped',
      (performance.now() - t0) / 1000,
      own() - c0,
      ticks(conn.backendPid) - b0,
    );
    await conn.close();
    if (!spooling) continue;
    const bc = (ref: string, t: string) =>
      `CASE WHEN ends_with(${ref}, ' BC') THEN CAST('-' || lpad(CAST(CAST(split_part(${ref}, '-', 1) AS INTEGER) - 1 AS VARCHAR), 4, '0') || substr(${ref}, strpos(${ref}, '-'), length(${ref}) - strpos(${ref}, '-') - 2) AS ${t}) ELSE CAST(${ref} AS ${t}) END`;
    const types = [
      'BIGINT',
      'INTEGER',
      'DECIMAL(12,2)',
      'VARCHAR',
      'TIMESTAMPTZ',
      'BOOLEAN',
      'UUID',
      'TIMESTAMPTZ',
    ];
    const expr = (i: number, t: string) =>
      t === 'TIMESTAMPTZ' ? bc(`_c${i}`, t) : t === 'VARCHAR' ? `_c${i}` : `CAST(_c${i} AS ${t})`;
    for (const [n, threads] of [0, 1, 0, 1].entries()) {
      const name = threads ? `${threads} thread` : "DuckDB's default threads";
      const inst = await DuckDBInstance.create(join(dir, `load${n}.duckdb`));
      const duck = await inst.connect();
      await duck.run(`CREATE TABLE t (${types.map((t, i) => `c${i} ${t}`).join(', ')})`);
      await duck.run('BEGIN');
      if (threads) await duck.run(`SET threads = ${threads}`);
      const c1 = own();
      const t1 = performance.now();
      for (const s of segments) {
        const cols = types.map((_, i) => `'_c${i}': 'VARCHAR'`).join(', ');
        const src = `read_csv('${s.path}', header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, columns = {${cols}})`;
        await duck.run(`INSERT INTO t SELECT ${types.map((t, i) => expr(i, t)).join(', ')} FROM ${src}`);
      }
      const load = own() - c1;
      const tl = (performance.now() - t1) / 1000;
      await duck.run('COMMIT');
      await duck.run('CHECKPOINT');
      row(`duckdb load, ${name}, + COMMIT, CHECKPOINT`, (performance.now() - t1) / 1000, own() - c1, 0);
      row('  of which INSERTs', tl, load, 0);
      duck.closeSync();
      inst.closeSync();
    }
    spool.remove();
  }
} finally {
  stopCluster(info);
  rmSync(dir, { recursive: true, force: true });
}
