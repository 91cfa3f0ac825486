// The files the bench runs in child processes. The CLI runs either from its modules (dist/src/…) or
// from the one bundled file (dist/src/walduck.mjs, scripts/bundle.mjs), so a path relative to this
// module's own URL would point elsewhere in each: paths start from the checkout's root instead, the
// directory that holds bin/walduck.js. Found on first use: a command other than bench never looks.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';

let root: string | undefined;

function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'walduck.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new BenchError(`no bin/walduck.js above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  root = dir;
  return dir;
}

/** The installed command, run as a user runs it. */
export const binPath = () => join(packageRoot(), 'bin', 'walduck.js');
/** The "decode only" contender (decode-only.ts). */
export const decodeOnlyPath = () => join(packageRoot(), 'dist', 'src', 'bench', 'decode-only.js');
/** The Node peer: built from bench/, outside src/ and the published files, so the product never loads it. */
export const peerScriptPath = () => join(packageRoot(), 'dist', 'bench', 'peer-pg-logical-replication.js');
