// The rooms of src/ and which may import which. Dependencies point one way:
//   protocol <- wal2json <- source/sink <- snapshot <- replicator <- verify <- cli
// (bench and cluster beside: cluster needs only protocol's error base, bench drives the built bin and reads the
// source). A new room, or an import the table does not allow, fails here: a cycle cannot creep in.
// src/protocol and src/wal2json are vendored on their own: Node built-ins only, never a package.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

/** Room -> the rooms its files may import (a room always may import itself). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  protocol: [],
  wal2json: ['protocol'],
  source: ['protocol', 'wal2json'],
  // The sink maps the source's column types to DuckDB's, so it knows their shape: as types only
  // (checked below), never by asking PostgreSQL anything.
  sink: ['protocol', 'wal2json', 'source'],
  snapshot: ['protocol', 'wal2json', 'source', 'sink'],
  replicator: ['protocol', 'wal2json', 'source', 'sink', 'snapshot'],
  verify: ['protocol', 'wal2json', 'source', 'sink', 'replicator'],
  cluster: ['protocol'],
  bench: ['protocol', 'wal2json', 'source', 'sink', 'snapshot', 'replicator', 'cluster'],
  cli: ['protocol', 'wal2json', 'source', 'sink', 'snapshot', 'replicator', 'verify', 'bench', 'cluster'],
};

/** Imports a room may make of a lower room only as `import type` (no code runs across them). */
const TYPE_ONLY: ReadonlyArray<readonly [string, string]> = [['sink', 'source']];

/** Packages (npm dependencies) and the one room each may appear in. */
const PACKAGES: Readonly<Record<string, string>> = {
  '@duckdb/node-api': 'sink',
  // Raw vector copies of the typed fill (sink/typed-fill.ts): node-api's own dependency, same version.
  '@duckdb/node-bindings': 'sink',
  yargs: 'cli',
  debug: 'cli',
};

/** Rooms that take nothing but Node built-ins from outside src (vendorable on their own). */
const NO_PACKAGES = ['protocol', 'wal2json'];

const src = join(repoRoot, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /(?<!\.d)\.ts$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

interface Import {
  readonly spec: string;
  readonly typeOnly: boolean;
}

/** Static imports and re-exports (`import type` noted), dynamic `import('…')` and `require('…')`. */
function imports(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type\b)?[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g))
    found.push({ spec: m[3] ?? '', typeOnly: m[2] !== undefined });
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g))
    found.push({ spec: m[1] ?? '', typeOnly: false });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ spec: m[1] ?? '', typeOnly: false });
  // createRequire's require('…'): src/sink/duckdb-api.ts loads DuckDB's CommonJS packages so.
  for (const m of text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ spec: m[1] ?? '', typeOnly: false });
  return found;
}

/** The room of a file under src/: its first folder; a file directly in src/ is the package's entry. */
function roomOf(file: string): string {
  const parts = relative(src, file).split('/');
  return parts.length > 1 ? (parts[0] ?? '') : '(entry)';
}

const files = sources(src);

it('every room of src/ is in the table of allowed imports', () => {
  const rooms = new Set(files.map(roomOf));
  rooms.delete('(entry)');
  for (const room of rooms) assert.ok(room in ALLOWED, `src/${room} is a new room: add it to ALLOWED`);
});

it('rooms import only the rooms below them, and no room imports the package entry', () => {
  const bad: string[] = [];
  for (const f of files) {
    const from = roomOf(f);
    for (const { spec, typeOnly } of imports(f)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec.replace(/\.js$/, '.ts'));
      const to = roomOf(target);
      if (to === from || from === '(entry)') continue;
      const where = `${relative(repoRoot, f)} imports ${spec}`;
      if (to === '(entry)') bad.push(`${where}: only callers outside src import the entry`);
      else if (!(ALLOWED[from] ?? []).includes(to)) bad.push(`${where}: ${from} may not import ${to}`);
      else if (!typeOnly && TYPE_ONLY.some(([a, b]) => a === from && b === to))
        bad.push(`${where}: ${from} may import ${to} only as \`import type\``);
    }
  }
  assert.deepEqual(bad, []);
});

it('the table itself has no cycle', () => {
  const reaches = (a: string, b: string, seen = new Set<string>()): boolean =>
    (ALLOWED[a] ?? []).some((n) => {
      if (n === b) return true;
      if (seen.has(n)) return false;
      seen.add(n);
      return reaches(n, b, seen);
    });
  for (const room of Object.keys(ALLOWED)) assert.ok(!reaches(room, room), `${room} reaches itself`);
});

// Inside a room too: a file that reaches itself through imports (types included) is two concepts
// that should be one module, or a shared name that belongs in a third.
it('no file of src/ reaches itself through its imports', () => {
  const edges = new Map<string, string[]>();
  for (const f of files)
    edges.set(
      f,
      imports(f)
        .filter((i) => i.spec.startsWith('.'))
        .map((i) => resolve(dirname(f), i.spec.replace(/\.js$/, '.ts'))),
    );
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    state.set(f, 'open');
    for (const n of edges.get(f) ?? []) {
      if (state.get(n) === 'open') {
        const loop = [...path.slice(path.indexOf(n)), n].map((x) => relative(src, x));
        cycles.push(loop.join(' -> '));
      } else if (!state.has(n) && edges.has(n)) visit(n, [...path, n]);
    }
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f, [f]);
  assert.deepEqual(cycles, []);
});

it('src/protocol and src/wal2json import no package, only Node built-ins', () => {
  const bad: string[] = [];
  for (const f of files.filter((f) => NO_PACKAGES.includes(roomOf(f)))) {
    for (const { spec } of imports(f))
      if (!spec.startsWith('.') && !spec.startsWith('node:'))
        bad.push(`${relative(repoRoot, f)} imports ${spec}`);
  }
  assert.deepEqual(bad, []);
});

it('each package is imported by its one room only', () => {
  const bad: string[] = [];
  for (const f of files) {
    for (const { spec } of imports(f)) {
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? '');
      const home = PACKAGES[pkg];
      if (home === undefined) bad.push(`${relative(repoRoot, f)} imports ${spec}: not a dependency we list`);
      else if (roomOf(f) !== home && roomOf(f) !== '(entry)')
        bad.push(`${relative(repoRoot, f)} imports ${spec}: only src/${home} may`);
    }
  }
  assert.deepEqual(bad, []);
});

it('the import scanner sees every form of import (else the checks above could pass on nothing)', () => {
  const protocolImports = files.filter((f) => roomOf(f) === 'protocol').flatMap(imports);
  assert.ok(protocolImports.some((i) => i.spec.startsWith('node:')));
  const sinkImports = files.filter((f) => roomOf(f) === 'sink').flatMap(imports);
  assert.ok(sinkImports.some((i) => i.spec === '@duckdb/node-api' && i.typeOnly));
  assert.ok(sinkImports.some((i) => i.spec === '@duckdb/node-api' && !i.typeOnly));
  assert.ok(sinkImports.some((i) => i.spec.includes('../source/') && i.typeOnly));
});
