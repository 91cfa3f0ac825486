// The COMMIT's room (src/sink/commit-window.ts): for each table, the bound must be at least the bytes of
// every VECTOR_ROWS rows it appended, in whatever order DuckDB holds them, so it is checked against a
// model that sorts every row's bytes and sums the largest VECTOR_ROWS. Rows are short (counted 3 bytes
// a character) or long (measured as UTF-8, multi-byte characters included), tables interleaved.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { it } from 'node:test';
import fc from 'fast-check';
import { CommitWindow, settingBytes, VECTOR_ROWS } from '../../../src/sink/commit-window.js';
import type { RowImage } from '../../../src/wal2json/change.js';

const SEED = Number(process.env.WALDUCK_PROPERTY_SEED ?? 20261219);
const RUNS = Number(process.env.WALDUCK_PROPERTY_RUNS ?? 30);

const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.nat({ max: 9000 }).map((n) => 'x'.repeat(n)) },
  // Three UTF-8 bytes a character, past the measured threshold: measured, not counted.
  { weight: 1, arbitrary: fc.nat({ max: 3000 }).map((n) => '€'.repeat(n + 1400)) },
);
const change = fc.record({
  // Mostly one table, so that it passes VECTOR_ROWS rows and its largest are replaced.
  table: fc.oneof({ weight: 9, arbitrary: fc.constant('a') }, { weight: 1, arbitrary: fc.constant('b') }),
  values: fc.array(fc.option(text, { nil: null }), { minLength: 1, maxLength: 3 }),
  extra: fc.nat({ max: 100 }),
});

it('bounds every vector of each table by its largest VECTOR_ROWS rows', () => {
  fc.assert(
    fc.property(fc.array(change, { minLength: VECTOR_ROWS, maxLength: 2 * VECTOR_ROWS }), (changes) => {
      const w = new CommitWindow();
      const model = new Map<string, number[]>();
      for (const c of changes) {
        const row: RowImage = { names: c.values.map((_, i) => `c${i}`), types: [], values: c.values };
        // What the stage counts: the characters, and some cost per value.
        const chars = c.values.reduce((n, v) => n + (v?.length ?? 0), 0) + c.extra;
        w.note(c.table, chars, row);
        const bytes =
          chars > 4096
            ? c.values.reduce((n, v) => n + 16 + (v === null ? 0 : Buffer.byteLength(v)), 0)
            : chars * 3;
        model.set(c.table, [...(model.get(c.table) ?? []), bytes]);
        // Never below the real bytes of the row (the vector's share DuckDB holds).
        const real = c.values.reduce((n, v) => n + (v === null ? 0 : Buffer.byteLength(v)), 0);
        assert.ok(bytes >= real);
      }
      let best = 0;
      for (const sizes of model.values()) {
        const top = sizes.sort((x, y) => y - x).slice(0, VECTOR_ROWS);
        best = Math.max(
          best,
          top.reduce((n, x) => n + x, 0),
        );
      }
      assert.equal(w.largest()?.bytes ?? 0, best);
      w.clear();
      assert.equal(w.largest(), undefined);
    }),
    // No shrinking: a failing list of thousands of rows takes minutes to shrink, and the seed replays it.
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
});

it('reads memory_limit as DuckDB prints it', () => {
  assert.equal(settingBytes('122.0 MiB'), 122 * 2 ** 20);
  assert.equal(settingBytes('1.5 GiB'), 1.5 * 2 ** 30);
  assert.equal(settingBytes('128MB'), 128e6);
  assert.equal(settingBytes('512 bytes'), 512);
  assert.equal(settingBytes('lots'), undefined);
});
