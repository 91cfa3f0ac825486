// Random and mutated bytes into the frame decoder and every message decoder: the only acceptable
// outcomes are a result or a WalduckProtocolError (never a RangeError, TypeError or hang).
// Budget: test/fuzz/budget.ts (default 300 cases a property, fixed seed; WALDUCK_FUZZ_RUNS /
// WALDUCK_FUZZ_SECONDS for long runs). Hand-picked edge inputs live in test/fuzz/corpus/protocol/ and
// are replayed first; add any input that ever fails there.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ScramClient } from '../../../src/protocol/auth/scram-sha-256.js';
import { WalduckProtocolError } from '../../../src/protocol/errors.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { decodeAuthentication } from '../../../src/protocol/messages/backend/authentication.js';
import { decodeBackendMessage, encodeBackendMessage } from '../../../src/protocol/messages/backend/index.js';
import { decodePasswordMessage } from '../../../src/protocol/messages/frontend/password-message.js';
import { decodeQuery } from '../../../src/protocol/messages/frontend/query.js';
import { decodeSASLInitialResponse } from '../../../src/protocol/messages/frontend/sasl-initial-response.js';
import { decodeStartupMessage } from '../../../src/protocol/messages/frontend/startup-message.js';
import { decodePrimaryKeepalive } from '../../../src/protocol/replication/primary-keepalive.js';
import { decodeStandbyStatusUpdate } from '../../../src/protocol/replication/standby-status-update.js';
import { decodeStreamMessage } from '../../../src/protocol/replication/stream-message.js';
import { decodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import { fixturesDir, repoRoot } from '../../helpers/paths.js';
import { backendMessage } from '../../property/protocol/arbitraries.js';
import { fuzz, fuzzRuns, fuzzTimeoutMs } from '../budget.js';

const runs = fuzzRuns(300);
const opts = { timeout: fuzzTimeoutMs() };
const TAGS = [...'RSKZENTDCIWdcvA!'].map((c) => c.charCodeAt(0));
const BODY_DECODERS: ReadonlyArray<(b: Buffer) => unknown> = [
  decodeAuthentication,
  decodeStartupMessage,
  decodePasswordMessage,
  decodeQuery,
  decodeSASLInitialResponse,
  decodeXLogData,
  decodePrimaryKeepalive,
  decodeStandbyStatusUpdate,
  decodeStreamMessage,
];

/** Runs `f`; anything thrown must be one of ours. */
function onlyTyped(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    assert.ok(
      err instanceof WalduckProtocolError,
      `untyped ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`,
    );
  }
}

function feed(chunks: readonly Buffer[]): void {
  // Both stages: the caps before the session is up differ from those after.
  for (const stage of ['session', 'startup'] as const) {
    const d = new FrameDecoder(1 << 20, stage);
    onlyTyped(() => {
      for (const c of chunks) {
        d.push(c, (tag, body) => onlyTyped(() => decodeBackendMessage(tag, body)));
      }
    });
  }
}

function corpus(): Buffer[] {
  const dir = `${repoRoot}test/fuzz/corpus/protocol`;
  return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(`${dir}/${f}`)) : [];
}

it('replays the corpus of edge inputs first', () => {
  for (const input of corpus()) {
    feed([input]);
    for (const dec of BODY_DECODERS) onlyTyped(() => dec(input));
  }
});

it('random bytes into the frame decoder and the backend decoders', opts, () => {
  fuzz(
    'protocol: random bytes into the frame decoder and the backend decoders',
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), (arrays) => {
      feed(arrays.map((a) => Buffer.from(a)));
    }),
    runs,
  );
});

it('valid frames with random bodies and tags: each decoder answers or throws a typed error', opts, () => {
  fuzz(
    'protocol: valid frames with random bodies and tags: each decoder answers or throws a typed error',
    fc.property(fc.constantFrom(...TAGS), fc.uint8Array({ maxLength: 200 }), (tag, body) => {
      const b = Buffer.from(body);
      onlyTyped(() => decodeBackendMessage(tag, b));
      for (const dec of BODY_DECODERS) onlyTyped(() => dec(b));
    }),
    runs,
  );
});

it('mutated valid messages (flipped bytes, truncations, lengths) stay typed', opts, () => {
  fuzz(
    'protocol: mutated valid messages (flipped bytes, truncations, lengths) stay typed',
    fc.property(
      fc.array(backendMessage, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      (msgs, flips, cut) => {
        const wire = Buffer.concat(msgs.map(encodeBackendMessage));
        for (const [at, v] of flips) wire[at % wire.length] = v;
        feed([wire.subarray(0, wire.length - (cut % 3)), wire.subarray(0, 0)]);
      },
    ),
    runs,
  );
});

it('mutated captured stream bytes stay typed', opts, () => {
  const captured = gunzipSync(readFileSync(`${fixturesDir}protocol/session-md5.bin.gz`));
  fuzz(
    'protocol: mutated captured stream bytes stay typed',
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      (flips) => {
        const b = Buffer.from(captured);
        for (const [at, v] of flips) b[at % b.length] = v;
        feed([b]);
      },
    ),
    Math.max(10, Math.floor(runs / 5)),
  );
});

it('random SCRAM server messages give a result or an AuthError', opts, () => {
  fuzz(
    'protocol: random SCRAM server messages give a result or an AuthError',
    fc.property(fc.string({ maxLength: 120 }), fc.string({ maxLength: 60 }), (first, final) => {
      const s = new ScramClient({
        password: 'pw',
        clientNonce: 'abc',
        channelBinding: { kind: 'none' },
        maxIterations: 16,
      });
      s.clientFirstMessage();
      onlyTyped(() => {
        s.clientFinalMessage(`r=abc${first}`);
        s.verifyServerFinal(final);
      });
      onlyTyped(() => s.verifyServerFinal(final));
    }),
    runs,
  );
});
