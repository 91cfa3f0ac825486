#!/usr/bin/env node
// The installed command. The TypeScript sources compile to dist/ (`npm run build`, done by `npm run setup`),
// and the build bundles the CLI into dist/src/walduck.mjs (scripts/bundle.mjs): one file loads faster
// than the ~160 modules it is made of. The modules run instead when there is no bundle, when one of
// them is newer than the bundle (a `tsc` without the bundle step), or with WALDUCK_UNBUNDLED=1.
import { existsSync, readFileSync, statSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
const bundle = new URL('../dist/src/walduck.mjs', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'walduck: not built yet: run `npm run setup` (or `npm run build`) in the walduck checkout\n',
  );
  process.exit(1);
}
const fresh = (() => {
  if (process.env.WALDUCK_UNBUNDLED === '1') return false;
  try {
    const made = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(
      readFileSync(new URL('../dist/src/walduck.inputs.json', import.meta.url), 'utf8'),
    );
    // About 160 stat calls, well under a millisecond.
    return inputs.every((p) => statSync(new URL(`../${p}`, import.meta.url)).mtimeMs <= made);
  } catch {
    return false;
  }
})();
await import(fresh ? bundle.href : main.href);
