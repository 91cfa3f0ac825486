// V8's young generation, capped from inside the process (issue 19). Node sizes it from flags given at
// start (--max-semi-space-size: up to 16 MiB per semi-space, 32 MiB committed, on this machine), and
// walduck is run as `node bin/walduck.js`: it cannot pass them, and v8.setFlagsFromString does not
// change a size fixed when the heap was set up. What it does change at runtime is how much the space
// grows when V8 decides to grow it: 1 (no growth) at the cap, 2 (V8's own) below it, so a young
// generation that V8 shrank on an idle spell grows back. A poll, not a GC hook: cheap (one heap
// statistics call), and V8 grows the space at most once per scavenge.

import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

const POLL_MS = 50;
const MIB = 1024 * 1024;

/**
 * One step of the cap: V8's growth factor for the young generation, 1 once its committed size reached
 * `mib` MiB (both semi-spaces), 2 (V8's own) below. Exported for the test, which calls it between
 * allocations instead of waiting for the poll.
 */
export function youngGenerationStep(mib: number): () => void {
  const cap = mib * MIB;
  let growing: boolean | undefined;
  return () => {
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (!young) return;
    const grow = young.space_size < cap;
    if (grow !== growing) {
      setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
      growing = grow;
    }
  };
}

/** Keeps the young generation's committed size at about `mib` MiB; 0: V8's own. */
export function capYoungGeneration(mib: number): void {
  if (!(mib > 0)) return;
  const step = youngGenerationStep(mib);
  step();
  setInterval(step, POLL_MS).unref();
}
