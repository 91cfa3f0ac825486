import { fileURLToPath } from 'node:url';

/** The checkout's root, whether running from test/ (ts) or dist/test/ (compiled). */
export const repoRoot = fileURLToPath(
  new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url),
);

export const fixturesDir = `${repoRoot}test/fixtures/`;
export const binPath = `${repoRoot}bin/walduck.js`;
