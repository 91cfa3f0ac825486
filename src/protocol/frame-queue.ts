// The wire's queue of frames not taken yet: each a tag and its body as `buf[start..end)`, in a ring of
// parallel arrays that doubles when full and never shrinks below what was needed.
//
// A ring because the queue is rarely empty while streaming: frames arrive while the consumer works
// through earlier ones. Arrays that were reset only once fully drained grew with every frame of the
// run, and pushing onto them cost ~0.9 µs a frame against ~0.2 µs (measured in isolation, 200-frame
// chunks with ten frames always left queued), besides holding an entry per frame ever received.

const EMPTY = Buffer.alloc(0);
const INITIAL = 1024;

export class FrameQueue {
  private cap = INITIAL;
  private tags = new Int32Array(INITIAL);
  private starts = new Int32Array(INITIAL);
  private ends = new Int32Array(INITIAL);
  private bufs: Buffer[] = new Array<Buffer>(INITIAL).fill(EMPTY);
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The tag of the first frame; 0 when the queue is empty. */
  peekTag(): number {
    return this.count > 0 ? (this.tags[this.head] as number) : 0;
  }

  push(tag: number, buf: Buffer, start: number, end: number): void {
    if (this.count === this.cap) this.grow();
    const i = (this.head + this.count) & (this.cap - 1);
    this.tags[i] = tag;
    this.bufs[i] = buf;
    this.starts[i] = start;
    this.ends[i] = end;
    this.count++;
  }

  /** Index of the first frame, removed from the queue; read it with the getters before the next push. */
  shift(): number {
    const i = this.head;
    this.head = (i + 1) & (this.cap - 1);
    this.count--;
    return i;
  }

  tagAt(i: number): number {
    return this.tags[i] as number;
  }

  startAt(i: number): number {
    return this.starts[i] as number;
  }

  endAt(i: number): number {
    return this.ends[i] as number;
  }

  /** The buffer of the frame at `i`; the queue drops its reference (the caller holds it now). */
  takeBufAt(i: number): Buffer {
    const b = this.bufs[i] as Buffer;
    this.bufs[i] = EMPTY;
    return b;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const tags = new Int32Array(cap);
    const starts = new Int32Array(cap);
    const ends = new Int32Array(cap);
    const bufs = new Array<Buffer>(cap).fill(EMPTY);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & (this.cap - 1);
      tags[k] = this.tags[i] as number;
      starts[k] = this.starts[i] as number;
      ends[k] = this.ends[i] as number;
      bufs[k] = this.bufs[i] as Buffer;
    }
    this.cap = cap;
    this.tags = tags;
    this.starts = starts;
    this.ends = ends;
    this.bufs = bufs;
    this.head = 0;
  }
}
