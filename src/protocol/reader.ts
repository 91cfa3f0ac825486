// A bounds-checked cursor over one message body. Every read past the end, and every byte left over
// when the decoder says it is done, becomes a ProtocolError: a decoder never reads garbage silently.

import { ProtocolError } from './errors.js';

export class Reader {
  private pos: number;
  constructor(
    private readonly buf: Buffer,
    /** Message name, for error text. */
    private readonly what: string,
    start = 0,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.buf.length) {
      throw new ProtocolError(
        'WALDUCK_MALFORMED_MESSAGE',
        'stream',
        `${this.what}: needs ${n} more byte(s) at offset ${at}, has ${this.buf.length - at}`,
      );
    }
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.buf[this.need(1)] as number;
  }

  i16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  i32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  u64(): bigint {
    return this.buf.readBigUInt64BE(this.need(8));
  }

  i64(): bigint {
    return this.buf.readBigInt64BE(this.need(8));
  }

  /** A NUL-terminated string (UTF-8: we ask for client_encoding UTF8). */
  cstring(): string {
    const start = this.pos;
    const end = this.buf.indexOf(0, start);
    if (end < 0) {
      throw new ProtocolError(
        'WALDUCK_MALFORMED_MESSAGE',
        'stream',
        `${this.what}: string at offset ${start} has no NUL`,
      );
    }
    this.pos = end + 1;
    return this.buf.toString('utf8', start, end);
  }

  /** A view (no copy) of the next n bytes. */
  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  /** A view of everything not yet read. */
  rest(): Buffer {
    const at = this.pos;
    this.pos = this.buf.length;
    return this.buf.subarray(at);
  }

  /** Leftover bytes mean we and the sender disagree about the layout: refuse rather than guess. */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new ProtocolError(
        'WALDUCK_MALFORMED_MESSAGE',
        'stream',
        `${this.what}: ${this.buf.length - this.pos} unexpected byte(s) after the message`,
      );
    }
  }
}

/** The unsigned 32-bit big-endian integer at `at` (the caller checked the bounds). */
export function u32At(buf: Uint8Array, at: number): number {
  return (
    (buf[at] as number) * 0x100_0000 +
    (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number))
  );
}

/**
 * The unsigned 64-bit big-endian integer at `at` (the caller checked the bounds). Node's
 * readBigUInt64BE makes four BigInts per call; a value below 2^53 (every LSN and server clock this
 * side of petabytes of WAL) is made from one exact double instead. Larger values take Node's path.
 */
export function u64At(buf: Buffer, at: number): bigint {
  const hi = u32At(buf, at);
  if (hi < 0x20_0000) return BigInt(hi * 0x1_0000_0000 + u32At(buf, at + 4));
  return buf.readBigUInt64BE(at);
}

/** The signed 64-bit big-endian integer at `at`, as u64At (negative values take Node's path). */
export function i64At(buf: Buffer, at: number): bigint {
  const hi = u32At(buf, at);
  if (hi < 0x20_0000) return BigInt(hi * 0x1_0000_0000 + u32At(buf, at + 4));
  return buf.readBigInt64BE(at);
}
