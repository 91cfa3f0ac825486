// The package's entry points as package.json "exports" declares them, loaded from a copy of the built
// package in a directory where no other package exists: walduck/protocol and walduck/wal2json must load
// (they import Node built-ins and each other only), while the root and walduck/sink, which need DuckDB,
// fail for want of it, which shows the setup can tell the difference.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

interface Manifest {
  exports: Record<string, string | { types: string; default: string }>;
}
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;

describe('package entry points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'walduck-entries-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = join(dir, 'node_modules', 'walduck');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(repoRoot, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(repoRoot, 'dist', 'src'), join(pkg, 'dist', 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"module","private":true}');
  const load = (specifier: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(specifier)})`], {
      cwd: dir,
      encoding: 'utf8',
    });

  it('every export has its JavaScript and its declarations', () => {
    assert.deepEqual(Object.keys(manifest.exports).sort(), [
      '.',
      './package.json',
      './protocol',
      './sink',
      './wal2json',
    ]);
    for (const [name, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue;
      assert.ok(existsSync(join(repoRoot, target.default)), `${name}: ${target.default}`);
      assert.ok(existsSync(join(repoRoot, target.types)), `${name}: ${target.types}`);
    }
  });

  for (const entry of ['walduck/protocol', 'walduck/wal2json']) {
    it(`${entry} loads with @duckdb/node-api, yargs and debug absent`, () => {
      const r = load(entry);
      assert.equal(r.status, 0, r.stderr);
    });
  }

  for (const entry of ['walduck', 'walduck/sink']) {
    it(`${entry} needs DuckDB (so the check above can fail)`, () => {
      const r = load(entry);
      assert.notEqual(r.status, 0);
      // require() (src/sink/duckdb-api.ts) says "module", an ESM import "package".
      assert.match(r.stderr, /Cannot find (?:module|package) '@duckdb\/node-api'/);
    });
  }

  it('the public names of each entry are the ones documented', () => {
    const names = (entry: string) =>
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `console.log(Object.keys(await import(${JSON.stringify(entry)})).sort().join(' '))`,
        ],
        { cwd: repoRoot, encoding: 'utf8' },
      ).trim();
    assert.equal(names('walduck/wal2json').split(' ').includes('createDecoder'), true);
    assert.equal(names('walduck/protocol').split(' ').includes('connect'), true);
    assert.deepEqual(names('walduck').split(' '), [
      'AuthError',
      'CatalogError',
      'ConfigError',
      'ConnectionError',
      'DuckFileError',
      'PgServerError',
      'ProtocolError',
      'ReplicateError',
      'SlotError',
      'SnapshotError',
      'TargetError',
      'Wal2JsonError',
      'WalduckError',
      'WalduckProtocolError',
      'parseTableName',
      'readSourceTables',
      'replicate',
    ]);
    assert.deepEqual(names('walduck/sink').split(' '), ['DuckDbSink', 'DuckFileError']);
  });
});
