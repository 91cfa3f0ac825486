// src/protocol and src/wal2json are vendored on their own: they may import Node built-ins and each
// other's relative files, never a package. Dependencies point one way: cli -> sink -> wal2json -> protocol.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
}

const rules: ReadonlyArray<[string, (spec: string) => boolean]> = [
  [
    'protocol',
    (s) =>
      s.startsWith('node:') ||
      ((s.startsWith('./') || s.startsWith('../')) && !/\.\.\/(wal2json|sink|cli)\b/.test(s)),
  ],
  ['wal2json', (s) => s.startsWith('node:') || s.startsWith('./') || /^\.\.\/protocol\//.test(s)],
  ['sink', (s) => !/\.\.\/cli\b/.test(s)],
  // verify sits beside cli's commands: it uses the replicator, nothing below it uses verify.
  ['verify', (s) => !/\.\.\/cli\b/.test(s)],
];

for (const [room, allowed] of rules) {
  it(`src/${room} imports only what its layer may`, () => {
    const files = sources(join(repoRoot, 'src', room));
    for (const f of files) {
      for (const spec of imports(f)) assert.ok(allowed(spec), `${f} imports ${spec}`);
    }
  });
}
