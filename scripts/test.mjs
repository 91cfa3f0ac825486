// Runs the compiled test suites, one node process per file (node:test runs a file's tests when the file
// is run directly, and fails the process when one fails), two at a time, so that each file's wall time
// is measured as a whole: its throwaway cluster's start and stop included. (`node --test` would start
// a second process per file, its runner, for nothing.) A file's output is printed when it finishes (never
// interleaved with another's), then a table of the files by duration, slowest first, and the totals.
// Node 20's `node --test` takes files, not globs, so we collect `*.test.js` under dist/test/<suite>
// ourselves (helpers and fixtures never run).
// Usage: node scripts/test.mjs [suite | folder | file ...]   (default: every suite), e.g. unit,
// integration/cli, integration/replicate/crash.test.js (paths under dist/test)
// WALDUCK_TEST_CONCURRENCY changes how many files run at once.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const suites = process.argv.slice(2);
const roots = (suites.length ? suites : ['unit', 'property', 'fuzz', 'integration']).map((s) =>
  join('dist', 'test', s),
);
const concurrency = Math.max(1, Number(process.env.WALDUCK_TEST_CONCURRENCY) || 2);

function collect(dir) {
  if (!existsSync(dir)) return [];
  if (dir.endsWith('.test.js')) return [dir];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return collect(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

// A compiled test whose source was moved or deleted stays in dist/ (tsc never removes): skip it.
const files = roots
  .flatMap(collect)
  .filter((f) => existsSync(f.replace(/^dist\//, '').replace(/\.js$/, '.ts')))
  .sort();
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}: run \`npm run build\` first`);
  process.exit(1);
}

/**
 * A file's wall-clock limit: a hung file fails, named, instead of hanging the run. Off for the opt-in
 * long runs (fuzz budgets, chaos minutes, silence samples), which set their own durations.
 */
const longRun = ['WALDUCK_FUZZ_SECONDS', 'WALDUCK_CHAOS_MINUTES', 'WALDUCK_MEASURE_SILENCE'].some(
  (v) => process.env[v],
);
const FILE_LIMIT_MS = longRun ? 0 : Number(process.env.WALDUCK_TEST_FILE_MINUTES ?? 30) * 60_000;

/** Runs one file; resolves with its exit status, wall time and the counts its reporter printed. */
function run(file) {
  return new Promise((resolve) => {
    const start = performance.now();
    // --test-force-exit: the file's process exits once its tests are done. Left to exit by itself, one
    // (rename-rollback, 2026-12-02) finished every test, then spun at 100% CPU for good in Node's
    // exit-time handle cleanup (node::Environment::CleanupHandles, a request that never completes,
    // after DuckDB use in the test's own process).
    const child = spawn(process.execPath, ['--test-reporter=tap', '--test-force-exit', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => out.push(b));
    const limit =
      FILE_LIMIT_MS > 0
        ? setTimeout(() => {
            out.push(Buffer.from(`\n# test.mjs: killed after ${FILE_LIMIT_MS / 60_000} minutes\n`));
            child.kill('SIGKILL');
          }, FILE_LIMIT_MS)
        : undefined;
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      const text = Buffer.concat(out).toString('utf8');
      const count = (what) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      resolve({
        file,
        ok: code === 0,
        status: signal ?? code,
        seconds: (performance.now() - start) / 1000,
        text,
        pass: count('pass'),
        fail: count('fail'),
        tests: count('tests'),
      });
    });
  });
}

// One certificate set for every throwaway cluster of this run (see SHARED_CERTIFICATES_ENV in
// src/cluster/throwaway.ts). Should making it fail, each cluster makes its own, and says why.
if (files.some((f) => f.includes(`${join('test', 'integration')}`))) {
  const { makeCertificates, SHARED_CERTIFICATES_ENV } = await import('../dist/src/cluster/throwaway.js');
  const certs = mkdtempSync(join(tmpdir(), 'walduck-test-certs-'));
  process.on('exit', () => rmSync(certs, { recursive: true, force: true }));
  makeCertificates(certs);
  process.env[SHARED_CERTIFICATES_ENV] = certs;
}

const started = performance.now();
const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const r = await run(files[next++]);
    process.stdout.write(`# ---- ${r.file} (${r.seconds.toFixed(1)} s)\n${r.text}`);
    results.push(r);
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
const wall = (performance.now() - started) / 1000;

const width = Math.max(...results.map((r) => r.file.length));
const lines = [...results]
  .sort((a, b) => b.seconds - a.seconds)
  .map(
    (r) =>
      `# ${r.file.padEnd(width)}  ${r.seconds.toFixed(1).padStart(6)} s  ${String(r.tests).padStart(3)} tests${r.ok ? '' : `  FAILED (${r.status})`}`,
  );
const sum = (k) => results.reduce((n, r) => n + r[k], 0);
const failed = results.filter((r) => !r.ok);
process.stdout.write(
  `\n# durations per file (wall time, ${concurrency} at a time)\n${lines.join('\n')}\n` +
    `# ${files.length} files, ${sum('tests')} tests: ${sum('pass')} pass, ${sum('fail')} fail; ${wall.toFixed(1)} s in all\n`,
);
if (failed.length > 0) {
  process.stdout.write(`# failed: ${failed.map((r) => r.file).join(', ')}\n`);
  process.exit(1);
}
