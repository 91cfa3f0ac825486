// The bundled CLI (scripts/bundle.mjs → dist/src/walduck.mjs) that bin/walduck.js runs: it is built,
// bin picks it only while it is at least as new as the modules, it inlines yargs and debug but not
// DuckDB (a native addon, loaded from node_modules when a command needs it), and it behaves as the
// modules do.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { binPath, repoRoot } from '../../helpers/paths.js';
import { useWorkdir } from '../../helpers/workdir.js';

const bundle = join(repoRoot, 'dist/src/walduck.mjs');
const modules = join(repoRoot, 'dist/src/cli/main.js');
const dir = useWorkdir('walduck-bundle-');

const run = (args: string[], env: Record<string, string> = {}, bin = binPath) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

it('the build made a bundle no older than the modules it lists, with DuckDB outside', () => {
  const inputs = JSON.parse(readFileSync(join(repoRoot, 'dist/src/walduck.inputs.json'), 'utf8')) as string[];
  for (const m of ['dist/src/cli/main.js', 'dist/src/sink/stage.js', 'dist/src/protocol/connection.js'])
    assert.ok(inputs.includes(m), m);
  for (const m of inputs)
    assert.ok(statSync(join(repoRoot, m)).mtimeMs <= statSync(bundle).mtimeMs, `${m}: run \`npm run build\``);
  assert.ok(statSync(bundle).mtimeMs >= statSync(modules).mtimeMs, 'run `npm run build`');
  const text = readFileSync(bundle, 'utf8');
  // esbuild marks each inlined file with a comment naming its path (relative: a linked node_modules
  // shows as ../…/node_modules).
  assert.doesNotMatch(text, /^\/\/ .*node_modules\/@duckdb\//m);
  for (const pkg of ['yargs', 'debug'])
    assert.match(text, new RegExp(`^// .*node_modules/${pkg}/`, 'm'), pkg);
  assert.ok(text.includes('"@duckdb/node-api"'));
});

it('bin runs the bundle while no module it lists is newer, else the modules, or with WALDUCK_UNBUNDLED=1', () => {
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist/src/cli'), { recursive: true });
  copyFileSync(binPath, join(dir, 'bin/walduck.js'));
  writeFileSync(join(dir, 'dist/src/cli/main.js'), "process.stdout.write('modules');\n");
  writeFileSync(join(dir, 'dist/src/other.js'), '');
  writeFileSync(join(dir, 'dist/src/walduck.mjs'), "process.stdout.write('bundle');\n");
  writeFileSync(join(dir, 'dist/src/walduck.inputs.json'), '["dist/src/cli/main.js","dist/src/other.js"]');
  const bin = join(dir, 'bin/walduck.js');
  const at = (file: string, s: number) => utimesSync(join(dir, file), s, s);
  at('dist/src/cli/main.js', 1000);
  at('dist/src/other.js', 1000);
  at('dist/src/walduck.mjs', 2000);
  assert.equal(run([], {}, bin).stdout, 'bundle');
  assert.equal(run([], { WALDUCK_UNBUNDLED: '1' }, bin).stdout, 'modules');
  // One module rewritten since (a tsc --watch), main.js not.
  at('dist/src/other.js', 3000);
  assert.equal(run([], {}, bin).stdout, 'modules');
  at('dist/src/other.js', 1000);
  writeFileSync(join(dir, 'dist/src/walduck.inputs.json'), 'not json');
  assert.equal(run([], {}, bin).stdout, 'modules');
});

it('the bundle answers as the modules do: version, a usage error, a failure', () => {
  for (const args of [
    ['--version'],
    ['--help'],
    ['replicate', '--help'],
    ['replicate', '--source', 'host=/nonexistent'],
    ['verify', '--source', 'host=/nonexistent', '--duckdb', join(dir, 'missing.duckdb')],
  ]) {
    const bundled = run(args);
    const plain = run(args, { WALDUCK_UNBUNDLED: '1' });
    assert.deepEqual(bundled, plain, args.join(' '));
  }
});

it("says walduck's version whatever the working directory (yargs inlined looked beside the bundle)", () => {
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
    .version;
  for (const env of [{}, { WALDUCK_UNBUNDLED: '1' }]) {
    const r = spawnSync(process.execPath, [binPath, '--version'], {
      cwd: dir,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.stdout.trim(), version, JSON.stringify(env));
  }
});
