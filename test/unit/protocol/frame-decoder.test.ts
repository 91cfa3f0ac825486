// The frame decoder on captured server bytes, split at every offset and fed byte by byte, plus the
// size checks and the zero-copy and single-allocation promises.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
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

  it('knows when input stopped mid-frame', () => {
    const d = new FrameDecoder();
    d.push(session.subarray(0, 3), () => {});
    assert.equal(d.midFrame, true);
    d.push(session.subarray(3, whole[0] ? 5 + (whole[0] as { body: Buffer }).body.length : 0), () => {});
    assert.equal(d.midFrame, false);
  });
});
