// The message pump: how a loop over a ReplicationStream waits for the next message, a periodic tick,
// or the stop signal. `replicate` and `walduck stream` both pump a stream this way.

import type { ReplicationStream, StreamMessage } from '../protocol/index.js';
import type { Wake } from './wake.js';

/** What a pump hands out: a message, or why there is none. */
export type Pumped = StreamMessage | 'abort' | 'end';

/** Messages handled between two turns of the event loop (a millisecond or two of work). */
const YIELD_EVERY = 256;

/**
 * The messages of a replication stream for a loop that also needs ticks and a stop signal. A message
 * already queued is taken synchronously; only an empty queue costs a promise. Every YIELD_EVERY
 * messages it lets the event loop run: while the loop works synchronously nothing is read, the
 * kernel's buffer fills and the walsender stops decoding.
 */
export class MessagePump {
  private readonly iterator: AsyncIterator<StreamMessage>;
  private sinceYield = 0;

  constructor(
    private readonly stream: ReplicationStream,
    readonly wake: Wake,
  ) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /**
   * The next message, 'abort' once the stop signal fired, or 'end' when the server ended the stream;
   * `onTick` runs on every tick while the stream is quiet. Rejects as the stream does.
   */
  async next(onTick: () => unknown): Promise<Pumped> {
    if (this.wake.aborted) return 'abort';
    if (++this.sinceYield >= YIELD_EVERY) {
      this.sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const queued = this.stream.tryNext();
    if (queued) return queued;
    const next = this.iterator.next();
    for (;;) {
      const r = await Promise.race([next, this.wake.wait()]);
      if (r === 'tick') {
        await onTick();
        continue;
      }
      if (r === 'abort') {
        // Left pending: the stream's stop() settles it; nobody awaits it any more.
        next.catch(() => {});
        return 'abort';
      }
      return r.done ? 'end' : r.value;
    }
  }
}
