// The young-generation cap (issue 19) works through a V8 flag set at runtime: this checks that V8
// really honours it, in this process (node --test runs each file in its own), stepping the cap between
// small allocations rather than waiting for its poll.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { youngGenerationStep } from '../../../src/cli/young-gen.js';

const MIB = 1024 * 1024;

function youngCommitted(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** Short-lived garbage with a trickle of survivors (what makes V8 grow its young generation). */
function churn(step: () => void, rounds: number): void {
  const kept: unknown[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 4000; i++) {
      const o = { text: `value ${r}:${i}`, pair: [r, i] };
      if (i % 50 === 0) kept.push(o);
    }
    if (kept.length > 20000) kept.length = 0;
    step();
  }
}

it('holds the young generation at the cap, and lets it grow again once the cap is lifted', () => {
  const capMib = 4;
  churn(youngGenerationStep(capMib), 3000);
  // V8 grows the space by doubling: one doubling may land between two steps.
  assert.ok(youngCommitted() <= 2 * capMib * MIB, `capped at ${youngCommitted() / MIB} MiB`);
  churn(youngGenerationStep(1024), 3000);
  assert.ok(youngCommitted() > 2 * capMib * MIB, `uncapped ${youngCommitted() / MIB} MiB`);
});
