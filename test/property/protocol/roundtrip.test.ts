// decode(encode(m)) = m for every message we encode or decode, through the frame decoder with the
// bytes split at random points; and LSN text round trips.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { formatLsn, parseLsn } from '../../../src/protocol/lsn.js';
import { decodeBackendMessage, encodeBackendMessage } from '../../../src/protocol/messages/backend/index.js';
import { decodeCopyData } from '../../../src/protocol/messages/copy-data.js';
import { decodeCopyDone } from '../../../src/protocol/messages/copy-done.js';
import {
  encodeFrontendMessage,
  type FrontendMessage,
} from '../../../src/protocol/messages/frontend/index.js';
import { decodePasswordMessage } from '../../../src/protocol/messages/frontend/password-message.js';
import { decodeQuery } from '../../../src/protocol/messages/frontend/query.js';
import { decodeSASLInitialResponse } from '../../../src/protocol/messages/frontend/sasl-initial-response.js';
import { decodeSASLResponse } from '../../../src/protocol/messages/frontend/sasl-response.js';
import { decodeSSLRequest } from '../../../src/protocol/messages/frontend/ssl-request.js';
import { decodeStartupMessage } from '../../../src/protocol/messages/frontend/startup-message.js';
import { decodeTerminate } from '../../../src/protocol/messages/frontend/terminate.js';
import {
  decodePrimaryKeepalive,
  encodePrimaryKeepalive,
} from '../../../src/protocol/replication/primary-keepalive.js';
import {
  decodeStandbyStatusUpdate,
  encodeStandbyStatusUpdate,
} from '../../../src/protocol/replication/standby-status-update.js';
import { decodeStreamMessage } from '../../../src/protocol/replication/stream-message.js';
import { encodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import {
  backendMessage,
  frontendMessage,
  primaryKeepalive,
  runs,
  standbyStatusUpdate,
  xlogData,
} from './arbitraries.js';

/** The frontend decoder for a message type (the fake server's side). */
function decodeFrontend(type: FrontendMessage['type'], wire: Buffer): FrontendMessage {
  const untagged = type === 'StartupMessage' || type === 'SSLRequest';
  assert.equal(wire.readInt32BE(untagged ? 0 : 1), wire.length - (untagged ? 0 : 1));
  const body = wire.subarray(untagged ? 4 : 5);
  switch (type) {
    case 'StartupMessage':
      return decodeStartupMessage(body);
    case 'SSLRequest':
      return decodeSSLRequest(body);
    case 'PasswordMessage':
      return decodePasswordMessage(body);
    case 'SASLInitialResponse':
      return decodeSASLInitialResponse(body);
    case 'SASLResponse':
      return decodeSASLResponse(body);
    case 'Query':
      return decodeQuery(body);
    case 'CopyData':
      return decodeCopyData(body);
    case 'CopyDone':
      return decodeCopyDone(body);
    case 'Terminate':
      return decodeTerminate(body);
    default:
      return type satisfies never;
  }
}

it('backend messages: decode(encode(m)) = m through frames split anywhere', () => {
  fc.assert(
    fc.property(
      fc.array(backendMessage, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (msgs, cuts) => {
        const wire = Buffer.concat(msgs.map(encodeBackendMessage));
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const decoder = new FrameDecoder();
        const got: unknown[] = [];
        let prev = 0;
        for (const p of [...points, wire.length]) {
          decoder.push(wire.subarray(prev, p), (tag, body) => got.push(decodeBackendMessage(tag, body)));
          prev = p;
        }
        assert.deepEqual(got, msgs);
        assert.equal(decoder.midFrame, false);
      },
    ),
    { numRuns: runs },
  );
});

it('frontend messages: decode(encode(m)) = m', () => {
  fc.assert(
    fc.property(frontendMessage, (m) => {
      assert.deepEqual(decodeFrontend(m.type, encodeFrontendMessage(m)), m);
    }),
    { numRuns: runs },
  );
});

it('replication messages: XLogData, keepalive, status update round trip', () => {
  fc.assert(
    fc.property(xlogData, primaryKeepalive, standbyStatusUpdate, (x, k, s) => {
      assert.deepEqual(decodeStreamMessage(encodeXLogData(x)), x);
      assert.deepEqual(decodeStreamMessage(encodePrimaryKeepalive(k)), k);
      assert.deepEqual(decodePrimaryKeepalive(encodePrimaryKeepalive(k)), k);
      assert.deepEqual(decodeStandbyStatusUpdate(encodeStandbyStatusUpdate(s)), s);
    }),
    { numRuns: runs },
  );
});

it('LSN text: parseLsn(formatLsn(x)) = x and the order of bigints is the WAL order', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      (a, b) => {
        assert.equal(parseLsn(formatLsn(a)), a);
        const [ha, la] = formatLsn(a)
          .split('/')
          .map((h) => Number.parseInt(h, 16)) as [number, number];
        const [hb, lb] = formatLsn(b)
          .split('/')
          .map((h) => Number.parseInt(h, 16)) as [number, number];
        assert.equal(a < b, ha < hb || (ha === hb && la < lb));
      },
    ),
    { numRuns: runs },
  );
});
