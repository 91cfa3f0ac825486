// The frame decoder on captured server bytes, split at every offset and fed byte by byte, plus the
// size checks and the zero-copy and single-allocation promises.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../../src/protocol/errors.js';
import {
  FrameDecoder,
  isPiece,
  PIECE_FIRST,
  PIECE_HEAD,
  PIECE_LAST,
  PIECE_MORE,
} from '../../../src/protocol/frame-decoder.js';
import { decodeBackendMessage } from '../../../src/protocol/messages/backend/index.js';
import { capture, frames, splitAt } from './support.js';

describe('FrameDecoder', () => {
  const session = capture('session-md5');
  const whole = frames([session]);

  it('decodes a captured md5 session into the message sequence PostgreSQL documents', () => {
    const names = whole.map((f) => decodeBackendMessage(f.tag, f.body).type);
    assert.equal(names[0], 'AuthenticationMD5Password');
    assert.equal(names[1], 'AuthenticationOk');
    const rfq = names.indexOf('ReadyForQuery');
    assert.ok(names.slice(2, rfq).every((n) => n === 'ParameterStatus' || n === 'BackendKeyData'));
    assert.equal(names.filter((n) => n === 'BackendKeyData').length, 1);
    // SELECT 1: RowDescription, DataRow, CommandComplete, ReadyForQuery; then CREATE_REPLICATION_SLOT alike.
    assert.deepEqual(names.slice(rfq + 1, rfq + 9), [
      'RowDescription',
      'DataRow',
      'CommandComplete',
      'ReadyForQuery',
      'RowDescription',
      'DataRow',
      'CommandComplete',
      'ReadyForQuery',
    ]);
    assert.equal(names[rfq + 9], 'CopyBothResponse');
    // The stream, then the clean stop: the server's CopyDone (a keepalive may still follow it),
    // CommandComplete for the copy and for START_REPLICATION, ReadyForQuery.
    const copyDone = names.indexOf('CopyDone');
    assert.ok(names.slice(rfq + 10, copyDone).every((n) => n === 'CopyData'));
    assert.deepEqual(
      names.slice(copyDone + 1).filter((n) => n !== 'CopyData'),
      ['CommandComplete', 'CommandComplete', 'ReadyForQuery'],
    );
    // Every byte is accounted for: 5 header bytes per frame plus bodies.
    assert.equal(
      whole.reduce((n, f) => n + 5 + f.body.length, 0),
      session.length,
    );
  });

  it('gives the same frames however the bytes are split (every offset)', () => {
    for (let at = 0; at <= session.length; at++) {
      assert.deepEqual(frames(splitAt(session, at)), whole, `split at ${at}`);
    }
  });

  it('gives the same frames when fed one byte at a time', () => {
    const bytes = [...session].map((b) => Buffer.from([b]));
    assert.deepEqual(frames(bytes), whole);
  });

  it('hands out views of the chunk when a frame is inside it (no copy)', () => {
    const d = new FrameDecoder();
    const bodies: Buffer[] = [];
    d.push(session, (_t, body) => bodies.push(body));
    assert.ok(bodies.length > 10);
    for (const b of bodies) if (b.length > 0) assert.equal(b.buffer, session.buffer);
  });

  it('assembles a frame split across many chunks into one buffer, never written again', () => {
    const body = Buffer.alloc(100_000, 7);
    const frame = Buffer.concat([Buffer.from([0x64, 0, 0, 0, 0]), body]);
    frame.writeInt32BE(body.length + 4, 1);
    const d = new FrameDecoder();
    const got: Buffer[] = [];
    for (let i = 0; i < frame.length; i += 999)
      d.push(Buffer.from(frame.subarray(i, i + 999)), (_t, b) => got.push(b));
    assert.equal(got.length, 1);
    const only = got[0] as Buffer;
    assert.equal(only.byteOffset, 0);
    assert.equal(only.buffer.byteLength >= body.length, true);
    assert.deepEqual(only, body);
    // Later frames must not reuse the assembled buffer.
    d.push(frame.subarray(0, 50_000), () => {});
    assert.ok(only.every((b) => b === 7));
  });

  it('refuses a length below 4 and above what PostgreSQL can send', () => {
    const d = new FrameDecoder();
    assert.throws(
      () => d.push(Buffer.from([0x5a, 0, 0, 0, 3, 0]), () => {}),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_SHORT',
    );
    const d2 = new FrameDecoder();
    assert.throws(
      () => d2.push(Buffer.from([0x64, 0x7f, 0xff, 0xff, 0xff]), () => {}),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_LARGE',
    );
    // Also when the bad header arrives split.
    const d3 = new FrameDecoder();
    d3.push(Buffer.from([0x5a, 0, 0]), () => {});
    assert.throws(
      () => d3.push(Buffer.from([0, 2]), () => {}),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_SHORT',
    );
  });

  it('caps lengths per stage and message type as libpq does', () => {
    const header = (tag: string, length: number): Buffer => {
      const b = Buffer.alloc(5);
      b[0] = tag.charCodeAt(0);
      b.writeInt32BE(length, 1);
      return b;
    };
    const refuses = (d: FrameDecoder, tag: string, length: number): void =>
      assert.throws(
        () => d.push(header(tag, length), () => {}),
        (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_LARGE',
        `${tag} ${length} in ${d.stage}`,
      );
    const accepts = (d: FrameDecoder, tag: string, length: number): void => {
      d.push(header(tag, length), () => {});
      assert.equal(d.midFrame, true, `${tag} ${length} in ${d.stage}`);
    };
    // Before the session is up: authentication requests are tiny, nothing may be long.
    refuses(new FrameDecoder(undefined, 'startup'), 'R', 2001);
    refuses(new FrameDecoder(undefined, 'startup'), 'v', 2001);
    accepts(new FrameDecoder(undefined, 'startup'), 'R', 2000);
    refuses(new FrameDecoder(undefined, 'startup'), 'E', 30_001);
    refuses(new FrameDecoder(undefined, 'startup'), 'D', 30_001);
    refuses(new FrameDecoder(undefined, 'startup'), 'd', 0x4000_0000);
    accepts(new FrameDecoder(undefined, 'startup'), 'E', 30_000);
    // In a session: data and server text may be long; control messages may not.
    for (const t of ['T', 'D', 'd', 'E', 'N', 'A']) accepts(new FrameDecoder(), t, 1_000_000);
    for (const t of ['S', 'Z', 'C', 'K', 'W', 'H', 'R', 'c'])
      refuses(new FrameDecoder(undefined, 'session'), t, 30_001);
    accepts(new FrameDecoder(), 'S', 30_000);
  });

  it('knows when input stopped mid-frame', () => {
    const d = new FrameDecoder();
    d.push(session.subarray(0, 3), () => {});
    assert.equal(d.midFrame, true);
    d.push(session.subarray(3, whole[0] ? 5 + (whole[0] as { body: Buffer }).body.length : 0), () => {});
    assert.equal(d.midFrame, false);
  });

  describe('pieces (pieceBytes)', () => {
    // A long CopyData between two short frames: a keepalive-sized 'd' before, a 'Z' after.
    const frame = (tag: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(5);
      h[0] = tag;
      h.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([h, body]);
    };
    const long = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 7 + 3) & 0xff));
    const before = Buffer.from('k0123456789abcdef0');
    const wire = Buffer.concat([frame(0x64, before), frame(0x64, long), frame(0x5a, Buffer.from('I'))]);

    /** Feeds `chunks` with pieces above 200 bytes; the long body rebuilt from its pieces, and the tags. */
    const feed = (chunks: readonly Buffer[]) => {
      const d = new FrameDecoder();
      d.pieceBytes = 200;
      const tags: number[] = [];
      const pieces: Buffer[] = [];
      const others: Buffer[] = [];
      for (const c of chunks) {
        d.push(c, (t, b) => {
          tags.push(t);
          if (isPiece(t)) pieces.push(Buffer.from(b));
          else others.push(Buffer.from(b));
        });
      }
      assert.equal(d.midFrame, false);
      return { tags, body: Buffer.concat(pieces), pieces, others };
    };

    it('hands a long CopyData out in pieces at every split offset, never assembled', () => {
      for (let at = 0; at <= wire.length; at++) {
        const got = feed(splitAt(wire, at));
        const inOne = at <= 5 + before.length || at >= wire.length - 6;
        if (inOne) {
          // The long frame lies inside one chunk: handed out whole, as a view.
          assert.deepEqual(got.tags, [0x64, 0x64, 0x5a], `split at ${at}`);
          assert.deepEqual(got.others, [before, long, Buffer.from('I')], `split at ${at}`);
          continue;
        }
        assert.deepEqual(got.others, [before, Buffer.from('I')], `split at ${at}`);
        assert.deepEqual(got.body, long, `split at ${at}`);
        assert.equal(got.tags[1], PIECE_FIRST, `split at ${at}`);
        assert.equal(got.pieces[0]?.length, PIECE_HEAD, `split at ${at}`);
        assert.equal(got.tags.at(-2), PIECE_LAST, `split at ${at}`);
        assert.ok(
          got.tags.slice(2, -2).every((t) => t === PIECE_MORE),
          `split at ${at}`,
        );
      }
    });

    it('hands out pieces when fed one byte at a time, each a view after the first', () => {
      const got = feed([...wire].map((b) => Buffer.from([b])));
      assert.deepEqual(got.body, long);
      assert.equal(got.tags.filter((t) => t === PIECE_FIRST).length, 1);
      assert.equal(got.tags.filter((t) => t === PIECE_MORE).length, long.length - PIECE_HEAD - 1);
      assert.equal(got.tags.filter((t) => t === PIECE_LAST).length, 1);
    });

    it('pieces only CopyData, only above pieceBytes, and keeps a started frame in pieces', () => {
      const d = new FrameDecoder();
      d.pieceBytes = 200;
      const tags: number[] = [];
      const short = frame(0x64, Buffer.alloc(150, 1));
      const error = frame(0x45, Buffer.alloc(400, 0x41));
      for (const f of [short, error]) {
        d.push(f.subarray(0, 20), (t) => tags.push(t));
        d.push(f.subarray(20), (t) => tags.push(t));
      }
      assert.deepEqual(tags, [0x64, 0x45]);
      const w = frame(0x64, long);
      d.push(w.subarray(0, 100), (t) => tags.push(t));
      d.pieceBytes = Number.POSITIVE_INFINITY;
      d.push(w.subarray(100), (t) => tags.push(t));
      assert.deepEqual(tags.slice(2), [PIECE_FIRST, PIECE_MORE, PIECE_LAST]);
      assert.throws(() => {
        d.pieceBytes = PIECE_HEAD - 1;
      }, RangeError);
    });

    it('a socket closing inside a pieced frame is mid-frame', () => {
      const d = new FrameDecoder();
      d.pieceBytes = 200;
      const w = frame(0x64, long);
      d.push(w.subarray(0, 300), () => {});
      assert.equal(d.midFrame, true);
    });
  });
});
