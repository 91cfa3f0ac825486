// A staged column (src/sink/stage-column.ts) under the stage's real use: rows set out of order and
// overwritten (a fold merges a later change into a staged row), values the filler knows (binary) and
// does not (kept as text) mixed in one column, NULLs, a clear and reuse, growth past one DuckDB chunk,
// and reads of picked rows (an UPDATE's rows of one shape) as well as of ranges. Against a model that
// keeps each row's last text: a text row reads back as that exact text, a binary row as the same
// integer, through textAt/textRange and through copyTo into a DuckDB chunk.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BIGINT, DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
import fc from 'fast-check';
import { TypedColumn } from '../../../src/sink/stage-column.js';
import { CHUNK_CAPACITY, ColumnScratch, fillerFor } from '../../../src/sink/typed-fill.js';

const SEED = Number(process.env.WALDUCK_PROPERTY_SEED ?? 20261219);
const RUNS = Number(process.env.WALDUCK_PROPERTY_RUNS ?? 60);

const LIMIT = 2n ** 63n;
/** Texts BIGINT's filler takes (plain integers in range) and ones it leaves as text. */
const text = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: -LIMIT, max: LIMIT - 1n }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom(String(-LIMIT), String(LIMIT - 1n), '0') },
  { weight: 2, arbitrary: fc.constantFrom(String(LIMIT), '99999999999999999999', '+1', '1e3', ' 7') },
);

/** Rows mostly near the start, some past one chunk (growth, then the room kept or trimmed). */
const row = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: CHUNK_CAPACITY + 600 }) },
);

const op = fc.record({ row, value: fc.option(text, { freq: 5 }) });

const filler = fillerFor({ duckType: 'BIGINT', convert: (r) => r, direct: true });

/** What a row must read back as: the exact text when it was kept as text, else the same integer. */
function same(got: string | null, want: string | null, binary: boolean): boolean {
  if (want === null || got === null) return got === want;
  return binary ? BigInt(got) === BigInt(want) : got === want;
}

it('a staged column reads back what was set last, row by row, picked or ranged, through text and chunks', () => {
  assert.ok(filler);
  const scratch = new ColumnScratch();
  fc.assert(
    fc.property(
      fc.array(fc.array(op, { minLength: 1, maxLength: 120 }), { minLength: 1, maxLength: 3 }),
      fc.infiniteStream(fc.nat()),
      (batches, picks) => {
        const col = new TypedColumn(filler);
        for (const [b, ops] of batches.entries()) {
          col.clear();
          // Every other batch starts from a trimmed column (the room of an idle table given back),
          // the others from the room the last batch grew to, with its bytes still in it.
          if (b % 2 === 1) col.trim();
          const model: (string | null)[] = [];
          const binary: boolean[] = [];
          for (const { row: i, value } of ops) {
            while (model.length <= i) {
              model.push(null);
              binary.push(false);
            }
            model[i] = value;
            if (value === null) {
              col.setNull(i);
              binary[i] = false;
            } else if (col.setBinary(i, value)) binary[i] = true;
            else {
              col.setText(i, value);
              binary[i] = false;
            }
          }
          assert.equal(col.length, model.length);
          const n = model.length;
          for (let i = 0; i < n; i++)
            assert.ok(same(col.textAt(i), model[i] ?? null, binary[i] ?? false), `row ${i}`);
          // Picked rows, in an order of their own, some twice, read in chunk-sized windows.
          const it = picks[Symbol.iterator]();
          const rows = Array.from({ length: Math.min(n, 3000) }, () => (it.next().value ?? 0) % n);
          for (const [pick, count] of [
            [rows, rows.length],
            [n, n],
          ] as const) {
            for (let start = 0; start < count; start += CHUNK_CAPACITY) {
              const end = Math.min(count, start + CHUNK_CAPACITY);
              const at = (k: number) => (typeof pick === 'number' ? k : (pick[k] ?? 0));
              const texts = col.textRange(pick, start, end);
              let anyText = false;
              for (let k = start; k < end; k++) {
                const i = at(k);
                assert.ok(same(texts[k - start] ?? null, model[i] ?? null, binary[i] ?? false), `pick ${k}`);
                if (model[i] !== null && !binary[i]) anyText = true;
              }
              assert.equal(col.allBinary(pick, start, end), !anyText);
              if (anyText) continue;
              const chunk = DuckDBDataChunk.create([BIGINT], end - start);
              col.copyTo(chunk, 0, scratch, pick, start, end);
              const got = chunk.getColumnValues(0);
              for (let k = start; k < end; k++) {
                const want = model[at(k)] ?? null;
                const v = got[k - start];
                assert.equal(v === null ? null : BigInt(v as bigint), want === null ? null : BigInt(want));
              }
            }
          }
        }
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
});

/** Texts a text column holds inline (12 ASCII bytes at most) and ones its heap holds. */
const words = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 3, arbitrary: fc.string({ minLength: 13, maxLength: 80 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'é', '😀', 'abcdefghijkl', 'abcdefghijklm', 'x'.repeat(5000)) },
);
const textFiller = fillerFor({ duckType: 'VARCHAR', convert: (r) => r, direct: true });

it('a staged text column reads back every text exactly, inline or from its heap, ranged or picked, past one chunk', () => {
  assert.ok(textFiller);
  const scratch = new ColumnScratch();
  fc.assert(
    fc.property(
      fc.array(
        fc.array(fc.record({ row, value: fc.option(words, { freq: 5 }) }), { minLength: 1, maxLength: 120 }),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
      fc.infiniteStream(fc.nat()),
      (batches, picks) => {
        const col = new TypedColumn(textFiller);
        for (const [b, ops] of batches.entries()) {
          col.clear();
          if (b % 2 === 1) col.trim();
          const model: (string | null)[] = [];
          for (const { row: i, value } of ops) {
            while (model.length <= i) model.push(null);
            // The stage's own order: the inline form when it takes the text, else setText.
            model[i] = value;
            if (value === null) col.setNull(i);
            else if (!col.setBinary(i, value)) col.setText(i, value);
          }
          const n = model.length;
          // What DuckDB gets: UTF-8 of the text (a lone surrogate becomes U+FFFD, as a JS string would).
          const utf8 = (t: string | null) => (t === null ? null : Buffer.from(t, 'utf8').toString('utf8'));
          for (let i = 0; i < n; i++) assert.equal(col.textAt(i), utf8(model[i] ?? null), `row ${i}`);
          const it = picks[Symbol.iterator]();
          const rows = Array.from({ length: Math.min(n, 3000) }, () => (it.next().value ?? 0) % n);
          for (const [pick, count] of [
            [rows, rows.length],
            [n, n],
          ] as const) {
            for (let start = 0; start < count; start += CHUNK_CAPACITY) {
              const end = Math.min(count, start + CHUNK_CAPACITY);
              const at = (k: number) => (typeof pick === 'number' ? k : (pick[k] ?? 0));
              // Never a chunk that must go as VARCHAR text: long texts are bytes of the column's own.
              assert.equal(col.allBinary(pick, start, end), true);
              const chunk = DuckDBDataChunk.create([VARCHAR], end - start);
              col.copyTo(chunk, 0, scratch, pick, start, end);
              const got = chunk.getColumnValues(0);
              for (let k = start; k < end; k++)
                assert.equal(got[k - start], utf8(model[at(k)] ?? null), `pick ${k}`);
            }
          }
        }
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
});
