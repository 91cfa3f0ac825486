// Turns the socket's chunks into complete backend messages: Byte1 tag, Int32 length (counting itself),
// then length-4 body bytes.
//
// A frame that lies inside one chunk is handed out as a view of that chunk (no copy). A frame split
// across chunks is assembled into ONE buffer allocated at its final size as soon as its header is
// known, and filled as chunks arrive: never by repeated concatenation, however large the message.
//
// View lifetime: Node allocates a fresh Buffer for every socket read and we never write into a chunk
// or into an assembled frame after handing it out, so a body view stays valid (and unchanged) for as
// long as the caller holds it. Holding a small view pins its whole chunk (up to 64 KiB) in memory.

import { ProtocolError } from './errors.js';

/** PostgreSQL allocates no message larger than MaxAllocSize (1 GiB - 1): a bigger length is garbage. */
export const MAX_FRAME_LENGTH = 0x3fff_ffff + 4;

export type FrameHandler = (tag: number, body: Buffer) => void;

export class FrameDecoder {
  /** Header bytes of a frame whose 5-byte header itself was split. */
  private readonly header = Buffer.alloc(5);
  private headerHave = 0;
  /** The frame being assembled across chunks, its tag, and how much of its body has arrived. */
  private partial: Buffer | undefined;
  private partialTag = 0;
  private partialHave = 0;

  constructor(private readonly maxFrameLength = MAX_FRAME_LENGTH) {}

  /** True when some bytes of an unfinished frame are held: a socket closing now truncated a frame. */
  get midFrame(): boolean {
    return this.headerHave > 0 || this.partial !== undefined;
  }

  /** Feeds one chunk; calls `onFrame` for each frame it completes, in order. */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.partial !== undefined) {
        const want = this.partial.length - this.partialHave;
        const take = Math.min(want, n - pos);
        chunk.copy(this.partial, this.partialHave, pos, pos + take);
        this.partialHave += take;
        pos += take;
        if (this.partialHave === this.partial.length) {
          const body = this.partial;
          this.partial = undefined;
          onFrame(this.partialTag, body);
        }
        continue;
      }
      if (this.headerHave > 0 || n - pos < 5) {
        // Collect a header that straddles chunks byte by byte; it is at most 5 bytes.
        const take = Math.min(5 - this.headerHave, n - pos);
        chunk.copy(this.header, this.headerHave, pos, pos + take);
        this.headerHave += take;
        pos += take;
        if (this.headerHave < 5) return;
        this.headerHave = 0;
        this.beginBody(this.header[0] as number, this.header.readInt32BE(1), onFrame);
        continue;
      }
      const tag = chunk[pos] as number;
      const length = chunk.readInt32BE(pos + 1);
      this.check(tag, length);
      const bodyStart = pos + 5;
      const bodyEnd = pos + 1 + length;
      if (bodyEnd <= n) {
        pos = bodyEnd;
        onFrame(tag, chunk.subarray(bodyStart, bodyEnd));
      } else {
        this.partial = Buffer.allocUnsafe(length - 4);
        this.partialTag = tag;
        this.partialHave = 0;
        pos = bodyStart;
      }
    }
  }

  private beginBody(tag: number, length: number, onFrame: FrameHandler): void {
    this.check(tag, length);
    if (length === 4) {
      onFrame(tag, Buffer.alloc(0));
      return;
    }
    this.partial = Buffer.allocUnsafe(length - 4);
    this.partialTag = tag;
    this.partialHave = 0;
  }

  private check(tag: number, length: number): void {
    if (length < 4) {
      throw new ProtocolError(
        'WALDUCK_FRAME_TOO_SHORT',
        'stream',
        `message '${String.fromCharCode(tag)}' claims length ${length}; the minimum is 4 (the length itself)`,
      );
    }
    if (length > this.maxFrameLength) {
      throw new ProtocolError(
        'WALDUCK_FRAME_TOO_LARGE',
        'stream',
        `message '${String.fromCharCode(tag)}' claims length ${length}, more than PostgreSQL can send: not a PostgreSQL server, or the stream is corrupt`,
      );
    }
  }
}
