#!/usr/bin/env node
// The installed command. The TypeScript sources compile to dist/ (`npm run build`, done by `npm run setup`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'walduck: not built yet: run `npm run setup` (or `npm run build`) in the walduck checkout\n',
  );
  process.exit(1);
}
await import(main.href);
