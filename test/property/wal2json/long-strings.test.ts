// Long strings (TOASTed texts) take a native search for their end (json-reader.ts, longString): they
// must read exactly as JSON.parse reads them, escapes, multi-byte characters and surrogate pairs
// included, refuse a raw control character, and wait for more input when the view ends inside them.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { it } from 'node:test';
import fc from 'fast-check';
import { JsonReader, NEED_MORE } from '../../../src/wal2json/json-reader.js';
import { hasControlByte } from '../../../src/wal2json/json-string.js';

const SEED = Number(process.env.WALDUCK_PROPERTY_SEED ?? 20261219);
const RUNS = Number(process.env.WALDUCK_PROPERTY_RUNS ?? 200);
const limits = { maxDepth: 64, maxStringBytes: 1 << 30 };

/** Text with the awkward parts weighted up, often longer than the 256-byte threshold. */
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 400 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '😀', 'é', '\ud83d\ude00', '\u2028'),
  },
);
const plain = fc.string({
  unit: fc.constantFrom('a', 'b', 'z', '0', ' '),
  minLength: 200,
  maxLength: 600,
  size: 'max',
});
// Often a plain run past the threshold first, so the native search is what meets the awkward parts.
const text = fc.tuple(plain, fc.array(piece, { maxLength: 12 })).map(([p, a]) => p + a.join(''));

function read(json: Buffer, final: boolean): string {
  const r = new JsonReader('decode-v2', limits);
  r.reset(json, final, 0n);
  return r.string();
}

it('a long string reads as JSON.parse reads it, with or without escapes', () => {
  fc.assert(
    fc.property(text, fc.boolean(), (s, asciiEscapes) => {
      let json = JSON.stringify(s);
      // wal2json may also escape with \u: the same text must come out.
      if (asciiEscapes)
        json = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      assert.equal(read(Buffer.from(`${json},"next"`), true), JSON.parse(json));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

it('a raw control character in a long string is refused', () => {
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.constantFrom('a', 'é', ' '),
        minLength: 300,
        maxLength: 2000,
        size: 'max',
      }),
      fc.nat(),
      fc.integer({ min: 0, max: 31 }),
      (s, at, c) => {
        const body = JSON.stringify(s).slice(1, -1);
        const k = 256 + (at % (body.length - 255));
        // Not inside an escape: put it at a position that follows no backslash.
        if (k > 0 && body[k - 1] === '\\') return;
        const json = Buffer.from(`"${body.slice(0, k)}${String.fromCharCode(c)}${body.slice(k)}"`);
        assert.throws(() => read(json, true), /control character/);
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
});

it('a view ending inside a long string waits for more (not final) or is truncated (final)', () => {
  fc.assert(
    fc.property(text, fc.nat(), (s, cut) => {
      const json = Buffer.from(JSON.stringify(s));
      const k = cut % json.length; // strictly before the closing quote's end
      const part = json.subarray(0, k);
      try {
        read(part, false);
        assert.fail('a cut string must not read');
      } catch (err) {
        if (err !== NEED_MORE) throw err;
      }
      assert.throws(() => read(part, true), /ends inside/);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

it('the word-at-a-time control byte check agrees with a byte loop, at every alignment', () => {
  const byte = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0xff }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }) },
    { weight: 1, arbitrary: fc.constantFrom(0x1f, 0x20, 0x7f, 0x80, 0x9f, 0xa0, 0xff, 0x00) },
  );
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 80 }), fc.nat(7), fc.nat(7), (values, lead, trim) => {
      const buf = new Uint8Array(lead + values.length);
      buf.set(values, lead);
      // A view that starts at an odd offset of its ArrayBuffer, as a payload in Node's pool does.
      const view = buf.subarray(lead);
      const to = Math.max(0, values.length - trim);
      for (let from = 0; from <= Math.min(4, to); from++) {
        const expected = values.slice(from, to).some((b) => b < 0x20);
        assert.equal(hasControlByte(view, from, to), expected);
      }
    }),
    { seed: SEED, numRuns: RUNS * 5 },
  );
});
