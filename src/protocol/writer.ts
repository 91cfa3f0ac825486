// Builds one message: tag byte, Int32 length (which counts itself but not the tag), body. The length
// is back-patched when the body is done, so callers never compute sizes by hand.

export class Writer {
  private buf: Buffer;
  private pos = 0;
  private readonly lengthAt: number;

  /** `tag` undefined: an untagged message (StartupMessage, SSLRequest) that starts with its length. */
  constructor(tag: number | undefined, sizeHint = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 16));
    if (tag !== undefined) this.buf[this.pos++] = tag;
    this.lengthAt = this.pos;
    this.pos += 4;
  }

  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1); // grow first: room() may replace this.buf
    this.buf[at] = v;
    return this;
  }

  i16(v: number): this {
    const at = this.room(2);
    this.buf.writeInt16BE(v, at);
    return this;
  }

  i32(v: number): this {
    const at = this.room(4);
    this.buf.writeInt32BE(v, at);
    return this;
  }

  u64(v: bigint): this {
    const at = this.room(8);
    this.buf.writeBigUInt64BE(v, at);
    return this;
  }

  i64(v: bigint): this {
    const at = this.room(8);
    this.buf.writeBigInt64BE(v, at);
    return this;
  }

  cstring(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.room(n + 1);
    this.buf.write(s, at, n, 'utf8');
    this.buf[at + n] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }

  /** The finished message; the writer must not be used afterwards. */
  finish(): Buffer {
    this.buf.writeInt32BE(this.pos - this.lengthAt, this.lengthAt);
    return this.buf.subarray(0, this.pos);
  }
}
