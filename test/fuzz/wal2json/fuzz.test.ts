// Random and mutated bytes: every decode either yields events or throws a Wal2JsonError — never another
// exception, never a hang. Budget: test/fuzz/budget.ts (small by default, fixed seed; WALDUCK_FUZZ_RUNS
// and WALDUCK_FUZZ_SECONDS for long runs).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createDecoder, type Wal2JsonDecoder } from '../../../src/wal2json/decoder.js';
import { Wal2JsonError } from '../../../src/wal2json/errors.js';
import { repoRoot } from '../../helpers/paths.js';
import { loadFixture } from '../../unit/wal2json/helpers.js';
import { fuzz, fuzzRuns, fuzzTimeoutMs } from '../budget.js';

const runs = fuzzRuns(200);
const enc = new TextEncoder();

/** Feeds messages; returns how many were decoded before a Wal2JsonError (which ends the stream). */
function feed(version: 1 | 2, messages: readonly Uint8Array[], opts: { maxDepth?: number } = {}): number {
  let d: Wal2JsonDecoder = createDecoder({ formatVersion: version, maxStringBytes: 1 << 16, ...opts });
  let ok = 0;
  messages.forEach((m, i) => {
    try {
      for (const c of d.decode(m, BigInt(i)))
        assert.ok(typeof c.kind === 'string' && typeof c.lsn === 'bigint');
      ok++;
    } catch (err) {
      if (!(err instanceof Wal2JsonError)) throw err;
      assert.equal(typeof err.offset, 'number');
      assert.equal(typeof err.snippet, 'string');
      // v1 refuses input after a failure: start over, as the caller would from the confirmed LSN.
      d = createDecoder({ formatVersion: version, maxStringBytes: 1 << 16, ...opts });
    }
  });
  return ok;
}

/** Token soup: bytes that reach deep into the state machines. */
const token = fc.constantFrom(
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  '\\u12',
  '\\ud83d',
  ' ',
  '\n',
  'null',
  'true',
  'fals',
  '-',
  '0',
  '12',
  '1e',
  '.5',
  '"kind"',
  '"insert"',
  '"update"',
  '"delete"',
  '"message"',
  '"change"',
  '"xid"',
  '"nextlsn"',
  '"0/1"',
  '"action"',
  '"I"',
  '"B"',
  '"columns"',
  '"columnnames"',
  '"columnvalues"',
  '"oldkeys"',
  '"keyvalues"',
  '"name"',
  '"value"',
  '"schema"',
  '"table"',
  'é',
  '\u0001',
);
const soup = fc.array(token, { maxLength: 60 }).map((ts) => enc.encode(ts.join('')));

function mutate(bytes: Uint8Array, edits: ReadonlyArray<[number, number, number]>): Uint8Array {
  let out = bytes;
  for (const [kind, at, value] of edits) {
    const i = bytes.length === 0 ? 0 : at % out.length || 0;
    if (kind === 0 && out.length > 0) {
      out = out.slice();
      out[i] = value;
    } else if (kind === 1) {
      out = new Uint8Array([...out.subarray(0, i), value, ...out.subarray(i)]);
    } else if (out.length > 0) {
      out = new Uint8Array([...out.subarray(0, i), ...out.subarray(i + 1)]);
    }
  }
  return out;
}
const edits = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 255 })), {
  minLength: 1,
  maxLength: 4,
});

describe('wal2json decoders on hostile input', { timeout: fuzzTimeoutMs() }, () => {
  it('random bytes', () => {
    fuzz(
      'wal2json: random bytes',
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (msgs) => {
        feed(2, msgs);
        feed(1, msgs);
      }),
      runs,
    );
  });

  it('token soup, whole and cut into messages', () => {
    fuzz(
      'wal2json: token soup, whole and cut into messages',
      fc.property(fc.array(soup, { maxLength: 6 }), (msgs) => {
        feed(2, msgs, { maxDepth: 8 });
        feed(1, msgs, { maxDepth: 8 });
      }),
      runs * 2,
    );
  });

  for (const name of ['v2', 'v1-chunks', 'v1'] as const) {
    it(`mutated ${name} fixture messages`, () => {
      const msgs = loadFixture(name).map((m) => m.bytes);
      const version = name === 'v2' ? 2 : 1;
      assert.equal(feed(version, msgs), msgs.length, 'the unmutated fixture decodes');
      fuzz(
        `wal2json: mutated ${name} fixture messages`,
        fc.property(fc.nat(msgs.length - 1), edits, (which, es) => {
          const copy = msgs.slice();
          copy[which] = mutate(msgs[which]!, es);
          feed(version, copy);
        }),
        runs,
      );
    });
  }

  it('the checked-in corpus of inputs that once failed', () => {
    const dir = join(repoRoot, 'test/fuzz/wal2json/corpus');
    const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(join(dir, f)));
      const version = f.startsWith('v1') ? 1 : 2;
      feed(version, [bytes]);
      // And cut at every offset.
      for (let i = 0; i <= bytes.length; i++) feed(version, [bytes.subarray(0, i), bytes.subarray(i)]);
    }
  });
});
