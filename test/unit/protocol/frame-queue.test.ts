// The wire's frame queue (a ring that doubles when full) behaves as a plain first-in first-out list,
// across wrap-arounds and growth while wrapped, and lets go of the buffers it handed out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameQueue } from '../../../src/protocol/frame-queue.js';

describe('FrameQueue', () => {
  it('is first in, first out for any sequence of pushes and takes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -3, max: 700 }), { maxLength: 60 }), (ops) => {
        const q = new FrameQueue();
        const model: [number, Buffer, number, number][] = [];
        let serial = 0;
        for (const op of ops) {
          // op > 0: push that many frames; op <= 0: take up to 1 - op * 300 frames.
          if (op > 0) {
            for (let k = 0; k < op; k++) {
              const frame: [number, Buffer, number, number] = [
                serial & 0x7ff,
                Buffer.alloc(1),
                serial,
                serial * 2,
              ];
              serial++;
              q.push(...frame);
              model.push(frame);
            }
          } else {
            for (let k = 0; k < 1 - op * 300 && model.length > 0; k++) {
              const [tag, buf, start, end] = model.shift() as [number, Buffer, number, number];
              assert.equal(q.peekTag(), tag);
              const i = q.shift();
              assert.deepEqual(
                [q.tagAt(i), q.takeBufAt(i), q.startAt(i), q.endAt(i)],
                [tag, buf, start, end],
              );
              assert.equal(q.takeBufAt(i).length, 0, 'the queue let go of the buffer');
            }
          }
          assert.equal(q.size, model.length);
          assert.equal(q.peekTag(), model.length > 0 ? model[0]?.[0] : 0);
        }
      }),
      { seed: 19, numRuns: 300 },
    );
  });
});
