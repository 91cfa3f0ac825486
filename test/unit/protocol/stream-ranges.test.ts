// The replication stream reads each XLogData from its frame's range in the socket chunk (wire.ts,
// decodeXLogDataAt), making one view of the payload and no header object; the arrived position is
// tracked as two 32-bit halves. Checked on the captured wal2json stream (real server bytes, replayed
// into a Wire through a stand-in for its socket, nothing sent anywhere): the messages equal those
// decodeStreamMessage gives for the same frames, however the bytes are cut, and the 64-bit readers
// equal Node's.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { COPY_BOTH_RESPONSE } from '../../../src/protocol/messages/backend/copy-both-response.js';
import { COPY_DATA } from '../../../src/protocol/messages/copy-data.js';
import { i64At, u32At, u64At } from '../../../src/protocol/reader.js';
import { ReplicationStream } from '../../../src/protocol/replication/stream.js';
import { decodeStreamMessage, type StreamMessage } from '../../../src/protocol/replication/stream-message.js';
import { Wire } from '../../../src/protocol/wire.js';
import { capture, frames } from './support.js';

/** What Wire uses of a net.Socket. Writes (standby status updates) are kept, to be looked at. */
class ReplaySocket extends EventEmitter {
  readonly written: Buffer[] = [];
  setNoDelay(): void {}
  resume(): void {}
  pause(): void {}
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  destroy(): void {}
}

/** The captured session's bytes from the first frame after CopyBothResponse (the stream proper). */
function streamBytes(): Buffer {
  const session = capture('stream-v2');
  let at = 0;
  for (const f of frames([session])) {
    at += 5 + f.body.length;
    if (f.tag === COPY_BOTH_RESPONSE) return session.subarray(at);
  }
  throw new Error('no CopyBothResponse in the capture');
}

/** The stream's messages when `bytes` arrive as `chunks` (copies: a socket hands out fresh buffers). */
function replay(chunks: readonly Buffer[]): { messages: StreamMessage[]; socket: ReplaySocket } {
  const socket = new ReplaySocket();
  const wire = new Wire(socket as never, {});
  wire.sessionStarted();
  const stream = new ReplicationStream(
    wire,
    { slot: 's', startLsn: 0n, feedbackIntervalMs: 3_600_000 },
    () => {},
  );
  const messages: StreamMessage[] = [];
  for (const c of chunks) {
    socket.emit('data', Buffer.from(c));
    for (let m = stream.tryNext(); m !== undefined; m = stream.tryNext()) messages.push(m);
  }
  stream.sendFeedback();
  return { messages, socket };
}

/** What decodeStreamMessage gives for the CopyData frames of `bytes` (payloads copied for comparing). */
function expected(bytes: Buffer): StreamMessage[] {
  return frames([bytes])
    .filter((f) => f.tag === COPY_DATA)
    .map((f) => decodeStreamMessage(f.body));
}

/** Only whole frames: the prefix of `bytes` up to the last frame boundary at or before `n`. */
function wholeFrames(bytes: Buffer, n: number): Buffer {
  let at = 0;
  for (;;) {
    const next = at + 1 + bytes.readInt32BE(at + 1);
    if (next > n) return bytes.subarray(0, at);
    at = next;
  }
}

describe('replication stream over frame ranges', () => {
  const bytes = streamBytes();

  it('gives the messages decodeStreamMessage gives, in 64 KiB chunks, for the whole capture', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 65536) chunks.push(bytes.subarray(i, i + 65536));
    const want = expected(bytes);
    assert.ok(want.length > 10_000);
    const { messages } = replay(chunks);
    assert.deepEqual(messages, want);
  });

  it('reports the highest position that arrived in XLogData as `write`', () => {
    // The XLogData frames alone (the capture's keepalives would carry the server's end themselves).
    const xlog = frames([bytes]).filter((f) => f.tag === COPY_DATA && f.body[0] === 0x77);
    const framed = Buffer.concat(
      xlog.map((f) => {
        const h = Buffer.alloc(5);
        h[0] = COPY_DATA;
        h.writeInt32BE(f.body.length + 4, 1);
        return Buffer.concat([h, f.body]);
      }),
    );
    const { messages, socket } = replay([framed]);
    let highest = 0n;
    for (const m of messages) {
      assert.equal(m.type, 'XLogData');
      if (m.type !== 'XLogData') continue;
      if (m.walEnd > highest) highest = m.walEnd;
      if (m.dataStart > highest) highest = m.dataStart;
    }
    const last = socket.written.at(-1) as Buffer;
    assert.equal(last[5], 0x72); // 'r' StandbyStatusUpdate inside the CopyData
    assert.equal(last.readBigUInt64BE(6), highest);
    assert.ok(highest > 0n);
  });

  it('gives the same messages cut at every offset of the first frames, and byte by byte', () => {
    const head = wholeFrames(bytes, 3000);
    const want = expected(head);
    assert.ok(want.length >= 3);
    for (let at = 0; at <= head.length; at++) {
      assert.deepEqual(replay([head.subarray(0, at), head.subarray(at)]).messages, want, `cut at ${at}`);
    }
    assert.deepEqual(replay([...head].map((b) => Buffer.from([b]))).messages, want);
  });

  it('reads 64-bit integers as Node does, on both sides of 2^53 and for negatives', () => {
    const edges = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
    const check = (v: bigint): void => {
      const b = Buffer.alloc(11);
      b.writeBigUInt64BE(v, 3);
      assert.equal(u64At(b, 3), b.readBigUInt64BE(3));
      assert.equal(i64At(b, 3), b.readBigInt64BE(3));
      assert.equal(u32At(b, 3), b.readUInt32BE(3));
      assert.equal(u32At(b, 7), b.readUInt32BE(7));
    };
    for (const v of edges) for (const d of [-1n, 0n, 1n]) if (v + d >= 0n && v + d < 2n ** 64n) check(v + d);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => check(v)),
      { seed: 19, numRuns: 2000 },
    );
  });
});
