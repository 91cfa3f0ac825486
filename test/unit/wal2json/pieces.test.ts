// A long XLogData handed to the decoder in pieces (decode's `more`), as the replication stream does
// above pieceBytes: every piece carries the message's own dataStart, so the events must equal those of
// the whole message, lsn included, wherever the message is cut. v1 reads the pieces as they come
// (never assembled); v2 gathers one line's pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder } from '../../../src/wal2json/decoder.js';
import { Wal2JsonError } from '../../../src/wal2json/errors.js';
import { loadFixture, V1_DOC } from './helpers.js';

/** Decodes the fixture's messages; message `cut` (by index) is delivered as pieces ending at `ends`. */
function decodeCut(
  formatVersion: 1 | 2,
  msgs: ReturnType<typeof loadFixture>,
  pieceEnds: (bytes: Uint8Array, index: number) => readonly number[],
): Change[] {
  const d = createDecoder({ formatVersion });
  const out: Change[] = [];
  msgs.forEach((m, i) => {
    const ends = pieceEnds(m.bytes, i);
    let from = 0;
    for (const end of ends) {
      // A copy per piece: the decoder may not keep a view of a piece it was lent.
      for (const c of d.decode(m.bytes.slice(from, end), m.lsn, true)) out.push(c);
      from = end;
    }
    for (const c of d.decode(m.bytes.slice(from), m.lsn, false)) out.push(c);
  });
  assert.equal(d.inTransaction, false);
  return out;
}

// A small whole-transaction document with escapes, multibyte text, numbers, nulls and arrays (as in
// v1.test.ts), and a v2 line: each cut at every byte into two pieces, and into one piece per byte.
const DOC = V1_DOC;

const V2_LINE =
  '{"action":"I","schema":"s","table":"t \\"q\\"","columns":[{"name":"a","type":"text","value":"\\u00e9t\\u00e9 \u00e0 \\n\u20ac"},{"name":"b","type":"numeric","value":-12.5e3},{"name":"c","type":"int[]","value":"{1,2}"},{"name":"d","type":"text","value":null}],"pk":[{"name":"b","type":"numeric"}]}';

/** Decodes `bytes` delivered at `lsn` as pieces ending at `ends` (a copy each: pieces are only lent). */
function decodePieces(fv: 1 | 2, bytes: Uint8Array, ends: readonly number[], lsn = 0x5000n): Change[] {
  const d = createDecoder({ formatVersion: fv });
  const out: Change[] = [];
  let from = 0;
  ends.forEach((end) => {
    // Every piece but the last says more (a piece may be empty, as a cut at either end makes it).
    for (const c of d.decode(bytes.slice(from, end), lsn, true)) out.push(c);
    from = end;
  });
  for (const c of d.decode(bytes.slice(from), lsn, false)) out.push(c);
  assert.equal(d.inTransaction, false);
  return out;
}

for (const [name, fv, text] of [
  ['v1 document', 1, DOC],
  ['v2 line', 2, V2_LINE],
] as const) {
  describe(`pieces of one XLogData: a ${name}`, () => {
    const bytes = new TextEncoder().encode(text);
    const whole = decodePieces(fv, bytes, []);

    it('equal events, lsn included, for a cut at every byte boundary', () => {
      assert.ok(whole.length >= (fv === 1 ? 6 : 1));
      for (let at = 0; at <= bytes.length; at++) {
        assert.deepEqual(decodePieces(fv, bytes, [at]), whole, `cut at ${at}`);
      }
    });

    it('equal events with one byte per piece, and for pairs of nearby cuts', () => {
      assert.deepEqual(decodePieces(fv, bytes, [...Array(bytes.length).keys()].slice(1)), whole);
      for (let a = 0; a < bytes.length; a += 3) {
        for (let b = a; b <= Math.min(bytes.length, a + 12); b++) {
          assert.deepEqual(decodePieces(fv, bytes, [a, b]), whole, `cut at ${a}, ${b}`);
        }
      }
    });
  });
}

for (const [name, fv] of [
  ['v1', 1],
  ['v1-chunks', 1],
  ['v2', 2],
] as const) {
  it(`pieces of the captured ${name} stream: equal events, lsn included, wherever every message is cut`, () => {
    const msgs = loadFixture(name);
    const whole = decodeCut(fv, msgs, () => []);
    assert.ok(whole.length > 10);
    for (let at = 0; at < 400; at += 13) {
      const got = decodeCut(fv, msgs, (b, i) => [(at * (i + 1)) % (b.length + 1)]);
      assert.deepEqual(got, whole, `cut at ${at}`);
    }
  });
}

describe('pieces of a v2 line', () => {
  it('refuses a line whose pieces exceed maxChangeBytes, and then refuses further input', () => {
    const d = createDecoder({ formatVersion: 2, maxChangeBytes: 100 });
    [...d.decode(new Uint8Array(60), 1n, true)];
    assert.throws(
      () => [...d.decode(new Uint8Array(60), 1n, true)],
      (e: unknown) => e instanceof Wal2JsonError && e.code === 'WALDUCK_WAL2JSON_TOO_LONG',
    );
    assert.throws(
      () => [...d.decode(new Uint8Array(1), 2n)],
      (e: unknown) => e instanceof Wal2JsonError && e.code === 'WALDUCK_WAL2JSON_MISUSE',
    );
  });
});
