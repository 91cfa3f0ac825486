// The online copy against the initial snapshot, on a throwaway cluster: the same table (`rows` rows,
// default 1M) copied (1) by the initial snapshot of a new replica and (2) online, added to --tables of
// a replica already following another table `hot`. During (2) a writer commits single-row updates to
// `hot` at a steady rate; the streaming latency of those transactions (source commit to DuckDB commit,
// walduck's own summary) is compared with the same writer and no copy. Run after `npm run build`:
//   node scripts/measure-online-copy.mjs [rows] [chunk-rows]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { conninfo, psql, psqlArgs, startCluster, stopCluster } from '../dist/src/cluster/throwaway.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const chunkRows = Number(process.argv[3] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'walduck-copymeasure-'));
const info = await startCluster({ database: 'walduck' });
const bin = join(import.meta.dirname, '..', 'bin', 'walduck.js');
const source = conninfo(info, 'scram-sha-256');

function walduck(args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`walduck ${args.join(' ')}: ${r.stderr}`);
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

/** Single-row updates of `hot`, one transaction each, about `perSecond` a second, until stopped. */
function writer(perSecond) {
  const sql = `DO $$ BEGIN FOR i IN 1..1000000 LOOP UPDATE hot SET v = v + 1 WHERE id = 1 + i % 100; COMMIT; PERFORM pg_sleep(${1 / perSecond}); END LOOP; END $$;`;
  const p = spawn('psql', [...psqlArgs(info), '-q', '-c', sql], { stdio: 'ignore' });
  return () => p.kill('SIGTERM');
}

const latency = (stderr) => /latency (p50 [^\n]*)/.exec(stderr)?.[1] ?? '?';
const replicate = (file, tables, extra = []) => [
  'replicate',
  '--source',
  source,
  '--duckdb',
  join(dir, file),
  '--slot',
  file.replace(/\W/g, '_'),
  '--tables',
  tables,
  '--batch-ms',
  '200',
  ...extra,
];

try {
  psql(
    info,
    `CREATE TABLE big (id bigint PRIMARY KEY, note text, n int, at timestamptz);
     INSERT INTO big SELECT g, 'note ' || g, g % 1000, '2024-01-01'::timestamptz + g * interval '1 s' FROM generate_series(1, ${rows}) g;
     CREATE TABLE hot (id int PRIMARY KEY, v int); INSERT INTO hot SELECT g, 0 FROM generate_series(1, 100) g;
`,
  );
  psql(info, 'VACUUM ANALYZE');
  // Each figure as soon as it is measured: a long run cut short keeps what it found.
  const out = { push: (line) => process.stdout.write(`${line}\n`) };
  out.push(
    `rows ${rows}, chunk rows ${chunkRows}, load before ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const snap = walduck([...replicate('snap.duckdb', 'big,hot'), '--until-caught-up'], {
    DEBUG: 'walduck:replicate',
  });
  const rate = /snapshot committed: [^\n]*?(\d+) rows\/s/.exec(snap.stderr)?.[1];
  out.push(
    `initial snapshot of big+hot: ${snap.seconds.toFixed(1)} s for the run, ${rate} rows/s (walduck's figure)`,
  );

  walduck([...replicate('online.duckdb', 'hot'), '--until-caught-up']);
  // Streaming latency needs a running replicator: follow for a fixed number of seconds.
  const follow = (file, tables, seconds, extra = []) =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [bin, ...replicate(file, tables, extra)], {
        env: { ...process.env, DEBUG: 'walduck:replicate,walduck:sink' },
      });
      let err = '';
      const t0 = performance.now();
      let done;
      p.stderr.on('data', (d) => {
        err += d;
        if (done === undefined && /online copy of public\.big: chunk \d+ wrote [^\n]*, done/.test(err))
          done = (performance.now() - t0) / 1000;
      });
      const timer = seconds ? setTimeout(() => p.kill('SIGINT'), seconds * 1000) : undefined;
      p.on('close', () => {
        clearTimeout(timer);
        resolve({ stderr: err, copySeconds: done });
      });
      if (!seconds) {
        const poll = setInterval(() => {
          if (done !== undefined) {
            clearInterval(poll);
            p.kill('SIGINT');
          }
        }, 200);
      }
    });
  const stop = writer(50);
  const quiet = await follow('online.duckdb', 'hot', 20);
  out.push(`streaming hot alone (writer ~50 tx/s), 20 s: latency ${latency(quiet.stderr)}`);
  const during = await follow('online.duckdb', 'hot,big', 0, ['--copy-chunk-rows', String(chunkRows)]);
  stop();
  out.push(
    `online copy of big beside hot (writer ~50 tx/s): ${during.copySeconds?.toFixed(1)} s, ${Math.round(rows / (during.copySeconds ?? Number.NaN))} rows/s; latency of the run ${latency(during.stderr)}`,
  );
  if (process.env.SHOW_COPY_LOG !== undefined)
    process.stdout.write(
      `${during.stderr
        .split('\n')
        .filter((l) => /online copy|COMMIT/.test(l))
        .slice(0, 80)
        .join('\n')}\n`,
    );
  out.push(
    `load after ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} finally {
  stopCluster(info);
  rmSync(dir, { recursive: true, force: true });
}
