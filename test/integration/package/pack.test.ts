// Installable as users install it: `npm pack`, then `npm install <tarball>` into an empty directory
// (production dependencies only, from the registry, with DuckDB's platform package resolved by npm as
// for any user), then the installed command and each entry point, from JavaScript and type-checked
// from TypeScript. The tarball's size and file count are reported as diagnostics.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runScript } from '../../helpers/node-script.js';
import { repoRoot } from '../../helpers/paths.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('npm pack, installed as a user would', () => {
  const dir = mkdtempSync(join(tmpdir(), 'walduck-pack-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const app = join(dir, 'app');
  let tarball = '';

  it('packs without tests, fixtures or source maps', (t) => {
    const [info] = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: repoRoot, encoding: 'utf8' }),
    ) as [{ filename: string; size: number; unpackedSize: number; files: { path: string }[] }];
    tarball = join(dir, info.filename);
    const paths = info.files.map((f) => f.path);
    t.diagnostic(`tarball ${info.size} bytes (${info.unpackedSize} unpacked), ${paths.length} files`);
    assert.equal(statSync(tarball).size, info.size);
    const unwanted = paths.filter((p) => /(^|\/)(test|fixtures)\/|\.map$|\.ts$(?<!\.d\.ts)|^src\//.test(p));
    assert.deepEqual(unwanted, []);
    for (const needed of [
      'bin/walduck.js',
      'dist/src/index.d.ts',
      'dist/src/protocol/index.js',
      'examples/print-changes.mjs',
    ])
      assert.ok(paths.includes(needed), needed);
  });

  it('installs from a clean directory with production dependencies only', async () => {
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const r = await runScript(
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball],
      { cwd: app, command: npm, timeoutMs: 300_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const modules = readdirSync(join(app, 'node_modules'));
    for (const dev of ['typescript', 'fast-check', '@biomejs', 'c8']) assert.ok(!modules.includes(dev), dev);
    // npm picked DuckDB's native package for this platform, with no lock file of ours involved.
    const bindings = readdirSync(join(app, 'node_modules', '@duckdb')).filter((n) =>
      n.startsWith('node-bindings-'),
    );
    assert.deepEqual(bindings, [`node-bindings-${process.platform}-${process.arch}`]);
  });

  it('runs `npx walduck --help` and `walduck demo`', async () => {
    const help = await runScript(['walduck', '--help'], { cwd: app, command: 'npx' });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /walduck replicate/);
    const demo = await runScript([join(app, 'node_modules', '.bin', 'walduck'), 'demo'], {
      cwd: app,
      command: process.execPath,
      timeoutMs: 300_000,
    });
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout + demo.stderr, /the DuckDB replica has exactly the same/);
  });

  it('imports each entry point from JavaScript', async () => {
    writeFileSync(
      join(app, 'check.mjs'),
      [
        "import { replicate, ReplicateError } from 'walduck';",
        "import { connect, parseLsn, formatLsn } from 'walduck/protocol';",
        "import { createDecoder } from 'walduck/wal2json';",
        "import { DuckDbSink } from 'walduck/sink';",
        'const d = createDecoder({ formatVersion: 2 });',
        'const [c] = [...d.decode(Buffer.from(\'{"action":"I","schema":"s","table":"t","columns":[{"name":"n","type":"bigint","value":9007199254740993}]}\'), 1n)];',
        "console.log(typeof replicate, typeof ReplicateError, typeof connect, typeof DuckDbSink.open, formatLsn(parseLsn('16/B374D848')), c.new.values[0]);",
      ].join('\n'),
    );
    const r = await runScript(['check.mjs'], { cwd: app });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function function function 16/B374D848 9007199254740993');
  });

  it('type-checks each entry point from TypeScript', async () => {
    // A TypeScript user brings TypeScript and Node's declarations; ours come with the package.
    mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
    symlinkSync(
      join(repoRoot, 'node_modules', '@types', 'node'),
      join(app, 'node_modules', '@types', 'node'),
    );
    writeFileSync(
      join(app, 'check.ts'),
      [
        "import { type ChangeSink, type ReplicateStatus, replicate } from 'walduck';",
        "import { type Connection, type Lsn, parseLsn } from 'walduck/protocol';",
        "import { type Change, createDecoder } from 'walduck/wal2json';",
        "import { DuckDbSink, type SourceTable } from 'walduck/sink';",
        'const lsn: Lsn | undefined = parseLsn("0/16B3748");',
        'const kinds = (c: Change): string => c.kind;',
        'const sink: ChangeSink = { storedLsn: 0n, inSourceTransaction: false, hasUncommitted: false, due: false,',
        '  apply: async (_c: Change) => {}, commit: async () => undefined, rollback: async () => {}, advanceIdle: async (_l: Lsn) => false };',
        'const onProgress = (p: ReplicateStatus): bigint => p.applied;',
        'export const run = () => replicate({ source: "", sink: async (ctx: { tables: readonly SourceTable[] }) => sink, onProgress, signal: new AbortController().signal });',
        'export type T = [Connection, typeof DuckDbSink, typeof lsn, typeof kinds, ReturnType<typeof createDecoder>];',
        '// @ts-expect-error: the options are checked, not any',
        'replicate({ batchRows: "many" });',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          types: ['node'],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
    const r = await runScript([join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], {
      cwd: app,
      timeoutMs: 300_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});
