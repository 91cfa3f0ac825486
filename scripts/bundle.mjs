// `npm run build`, after tsc: the CLI's ~160 compiled modules as one file, dist/src/walduck.mjs, which
// bin/walduck.js runs. Node 20 resolves, reads and compiles each ES module on its own, and that cost
// every run ~0.25 CPU s at start (README "Development"). The modules stay in dist/src as they are: the
// library's exports, the tests and WALDUCK_UNBUNDLED=1 use them. yargs and debug are inlined too: as
// packages they are ~40 more ES and CommonJS files to resolve and compile, about 0.1 s of every start.
// DuckDB stays outside (a native addon, loaded from node_modules only by the commands that need it).
//
// Beside it, dist/src/walduck.inputs.json lists the modules it was made of: bin runs the bundle only
// while none of them is newer (a `tsc --watch` rewrites only the modules it changed).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = buildSync({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/src/walduck.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['@duckdb/*'],
  // debug is CommonJS and requires Node's built-ins (tty, util): in an ES module file esbuild's shim
  // needs a require to call.
  banner: {
    js: "import { createRequire as walduckCreateRequire } from 'node:module'; const require = walduckCreateRequire(import.meta.url);",
  },
  // Class and function names as written: stack traces of a bug name the code's own functions.
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs).filter((p) => p.startsWith('dist/src/'));
writeFileSync(`${root}dist/src/walduck.inputs.json`, `${JSON.stringify(inputs)}\n`);
