// Regression: the writer grows its buffer inside room(); a write that read `this.buf` before calling
// room() wrote into the old buffer and threw (found by the round-trip property test).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Writer } from '../../../src/protocol/writer.js';

it('keeps every value when a write grows the buffer', () => {
  const w = new Writer(0x54, 16);
  for (let i = 0; i < 40; i++)
    w.i16(i)
      .i32(0 - i)
      .u8(i)
      .u64(BigInt(i))
      .i64(BigInt(-i))
      .cstring('é');
  const b = w.finish();
  assert.equal(b.readInt32BE(1), b.length - 1);
  let at = 5;
  for (let i = 0; i < 40; i++) {
    assert.equal(b.readInt16BE(at), i);
    assert.equal(b.readInt32BE(at + 2), 0 - i);
    assert.equal(b[at + 6], i);
    assert.equal(b.readBigUInt64BE(at + 7), BigInt(i));
    assert.equal(b.readBigInt64BE(at + 15), BigInt(-i));
    assert.equal(b.toString('utf8', at + 23, at + 25), 'é');
    at += 26;
  }
});
