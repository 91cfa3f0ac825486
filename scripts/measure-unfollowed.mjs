// What changes of an unfollowed table cost `walduck replicate`: one quiet table is followed while
// another gets `changes` inserts (1000 a transaction), on a throwaway cluster. Into DuckDB the server
// sends every table's changes (no add-tables, so renames can be followed), and walduck drops the other
// table's. Each run replays the same WAL range (its own slot, made before the workload) up to --endpos,
// under /usr/bin/time -v: CPU seconds and max RSS. Several walduck checkouts can be compared on the same
// range (each a directory with bin/walduck.js, built). Run after `npm run build`:
//   node scripts/measure-unfollowed.mjs [changes] [runs] [format] [checkout ...]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { conninfo, psql, startCluster, stopCluster } from '../dist/src/cluster/throwaway.js';

const changes = Number(process.argv[2] ?? 400_000);
const runs = Number(process.argv[3] ?? 2);
const format = process.argv[4] ?? '2';
const checkouts =
  process.argv.length > 5
    ? process.argv.slice(5).map((d) => resolve(d))
    : [resolve(import.meta.dirname, '..')];
const dir = mkdtempSync(join(tmpdir(), 'walduck-unfollowed-'));
const info = await startCluster({ database: 'walduck' });
const source = conninfo(info, 'scram-sha-256');

const args = (n) => [
  'replicate',
  '--source',
  source,
  '--duckdb',
  join(dir, `r${n}.duckdb`),
  '--slot',
  `unfollowed_${n}`,
  '--tables',
  'quiet',
  '--format-version',
  format,
];

function walduck(checkout, argv, timed) {
  // WALDUCK_MEASURE_NODE_ARGS: e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile of each run.
  const nodeArgs = timed ? (process.env.WALDUCK_MEASURE_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const cmd = [process.execPath, ...nodeArgs, join(checkout, 'bin', 'walduck.js'), ...argv];
  const r = timed
    ? spawnSync('/usr/bin/time', ['-v', ...cmd], { encoding: 'utf8' })
    : spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`walduck ${argv.join(' ')}: ${r.stderr}`);
  return r.stderr;
}

const field = (text, name) => Number(new RegExp(`${name}: ([0-9.]+)`).exec(text)?.[1] ?? Number.NaN);

try {
  psql(
    info,
    `CREATE TABLE quiet (id int PRIMARY KEY, v text);
     CREATE TABLE busy (id bigint PRIMARY KEY, note text, n int, at timestamptz, amount numeric(12,2), flag boolean);`,
  );
  // One slot (and DuckDB file) per run, all made before the workload: each run reads the same range.
  const total = checkouts.length * runs;
  for (let n = 0; n < total; n++) walduck(checkouts[0], [...args(n), '--until-caught-up'], false);
  const t0 = performance.now();
  psql(
    info,
    `DO $$ BEGIN FOR t IN 0..${Math.ceil(changes / 1000) - 1} LOOP
       INSERT INTO busy SELECT g, 'note number ' || g, g % 1000, '2024-01-01'::timestamptz + g * interval '1 s', g / 7.0, g % 2 = 0
         FROM generate_series(t * 1000 + 1, t * 1000 + 1000) g;
       IF t % 50 = 0 THEN INSERT INTO quiet VALUES (t, 'quiet ' || t); END IF;
       COMMIT;
     END LOOP; END $$;`,
  );
  const endpos = psql(info, 'SELECT pg_current_wal_lsn()').trim();
  const wal = psql(
    info,
    `SELECT pg_wal_lsn_diff('${endpos}', confirmed_flush_lsn) FROM pg_replication_slots LIMIT 1`,
  ).trim();
  process.stdout.write(
    `${changes} inserts to an unfollowed table, ${(Number(wal) / 1e6).toFixed(0)} MB of WAL, format-version ${format}, written in ${((performance.now() - t0) / 1000).toFixed(1)} s; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  let n = 0;
  for (let r = 0; r < runs; r++) {
    for (const checkout of checkouts) {
      const err = walduck(checkout, [...args(n++), '--endpos', endpos], true);
      const cpu = field(err, 'User time \\(seconds\\)') + field(err, 'System time \\(seconds\\)');
      const rss = field(err, 'Maximum resident set size \\(kbytes\\)') / 1024;
      const summary = /walduck replicate: ([^\n]*\(endpos\))/.exec(err)?.[1] ?? '?';
      process.stdout.write(
        `${checkout}: CPU ${cpu.toFixed(2)} s, max RSS ${rss.toFixed(0)} MB (${summary})\n`,
      );
    }
  }
  const rows = psql(info, 'SELECT count(*) FROM quiet').trim();
  process.stdout.write(`quiet has ${rows} rows at the source\n`);
} finally {
  stopCluster(info);
  rmSync(dir, { recursive: true, force: true });
}
