// The v1 stream decoder yields the same events wherever the document is cut: every offset for small
// documents, random cuts (fast-check) for large ones; and generated values come back exactly as their
// JSON source said (strings unescaped, numbers as text).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Change, Insert } from '../../../src/wal2json/change.js';
import { decodeAll, enc, loadFixture, splitAt, withoutLsn } from '../../unit/wal2json/helpers.js';
import { jsonNumber } from './arbitraries.js';

const runs = Number(process.env.WALDUCK_FUZZ_RUNS ?? 60);

/** A column value and its JSON source text. */
const cell = fc.oneof(
  jsonNumber.map((t) => ({ json: t, value: t as string | null })),
  fc
    .string({ unit: 'binary', maxLength: 30 })
    .map((s) => ({ json: JSON.stringify(s), value: s as string | null })),
  fc.string({ unit: 'grapheme', maxLength: 10 }).map((s) => ({
    // wal2json escapes only what JSON requires; a consumer must also take \u escapes of anything,
    // surrogate pairs included.
    json: `"${Array.from({ length: s.length }, (_, i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`,
    value: s as string | null,
  })),
  fc.constantFrom(
    { json: 'null', value: null },
    { json: 'true', value: 'true' },
    { json: 'false', value: 'false' },
  ),
);

const row = fc.array(cell, { minLength: 1, maxLength: 6 });

function v1Document(rows: ReadonlyArray<ReadonlyArray<{ json: string }>>): string {
  const changes = rows.map(
    (cells, r) =>
      `{"kind":"insert","schema":"s","table":"t${r % 2}","columnnames":[${cells.map((_, i) => `"c${i}"`).join(',')}],` +
      `"columntypes":[${cells.map(() => '"text"').join(',')}],"columnvalues":[${cells.map((c) => c.json).join(', ')}]}`,
  );
  return `{"xid":7,"nextlsn":"0/FF","timestamp":"t","change":[${changes.join(',')}]}`;
}

describe('v1 decoding does not depend on where messages are cut', () => {
  it('generated documents: values round-trip, and any cuts give the same events', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (rows, rawCuts) => {
        const bytes = enc.encode(v1Document(rows));
        const whole = decodeAll(1, [bytes]);
        const inserts = whole.filter((c): c is Insert => c.kind === 'insert');
        assert.deepEqual(
          inserts.map((c) => c.new.values),
          rows.map((cells) => cells.map((c) => c.value)),
        );
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        assert.deepEqual(withoutLsn(decodeAll(1, splitAt(bytes, cuts))), withoutLsn(whole));
      }),
      { numRuns: runs },
    );
  });

  it('captured documents: every cut of the small ones, random cuts of the large ones', () => {
    const docs = loadFixture('v1').map((m) => m.bytes);
    let small = 0;
    for (const bytes of docs) {
      const whole = withoutLsn(decodeAll(1, [bytes]));
      if (bytes.length <= 1500) {
        small++;
        for (let i = 0; i <= bytes.length; i++) {
          assert.deepEqual(withoutLsn(decodeAll(1, splitAt(bytes, [i]))), whole, `cut at ${i}`);
        }
      } else {
        fc.assert(
          fc.property(fc.uniqueArray(fc.nat(bytes.length), { maxLength: 40 }), (raw) => {
            const cuts = [...raw].sort((a, b) => a - b);
            assert.deepEqual(withoutLsn(decodeAll(1, splitAt(bytes, cuts))), whole);
          }),
          { numRuns: Math.max(5, runs >> 2) },
        );
      }
    }
    assert.ok(small > 10);
  });

  it('the whole captured stream, re-cut at random, gives the same events', () => {
    const all = loadFixture('v1-chunks').map((m) => m.bytes);
    const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
    let off = 0;
    for (const b of all) {
      joined.set(b, off);
      off += b.length;
    }
    const reference: Change[] = decodeAll(1, all);
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(joined.length), { maxLength: 300 }), (raw) => {
        const cuts = [...raw].sort((a, b) => a - b);
        assert.deepEqual(withoutLsn(decodeAll(1, splitAt(joined, cuts))), withoutLsn(reference));
      }),
      { numRuns: Math.max(3, runs >> 3) },
    );
  });
});
