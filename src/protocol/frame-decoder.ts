// Turns the socket's chunks into complete backend messages: Byte1 tag, Int32 length (counting itself),
// then length-4 body bytes.
//
// A frame that lies inside one chunk is handed out as a view of that chunk (no copy). A frame split
// across chunks is assembled into ONE buffer allocated at its final size as soon as its header is
// known, and filled as chunks arrive: never by repeated concatenation, however large the message.
//
// Pieces (opt-in, `pieceBytes`): a CopyData frame longer than pieceBytes that does not fit in the
// chunk at hand is not assembled at all. It is handed out as it arrives, as a first piece (a copy of
// exactly its first PIECE_HEAD bytes, so a message header inside it is whole), then views of the
// chunks that follow, the last one flagged. A wal2json format-version 1 document of 600 MB then costs
// the socket's read budget, not 600 MB, and its parsing overlaps its transfer. Piece tags carry bits
// above the byte (a real tag is one byte), so a reader that does not expect pieces never takes one
// for a whole frame.
//
// View lifetime: Node allocates a fresh Buffer for every socket read and we never write into a chunk
// or into an assembled frame after handing it out, so a body view stays valid (and unchanged) for as
// long as the caller holds it. Holding a small view pins its whole chunk (up to 64 KiB) in memory.

import { ProtocolError } from './errors.js';

const EMPTY = Buffer.alloc(0);

/** PostgreSQL allocates no message larger than MaxAllocSize (1 GiB - 1): a bigger length is garbage. */
export const MAX_FRAME_LENGTH = 0x3fff_ffff + 4;

/**
 * Caps on a claimed length, as libpq applies them (fe-connect.c, fe-protocol3.c). The length is
 * believed, and its buffer allocated, before a byte of the body arrives; without caps anyone who
 * answers the TCP connection (a man in the middle under sslmode=prefer, before any authentication)
 * could make us allocate 1 GiB per message.
 * - Until the first ReadyForQuery ('startup'): an Authentication request or NegotiateProtocolVersion
 *   is small (2000 bytes), anything else (errors, notices, ParameterStatus) at most 30000.
 * - Afterwards ('session'): only the messages that carry data or server text may be long
 *   (RowDescription, DataRow, CopyData, ErrorResponse, NoticeResponse, NotificationResponse); every
 *   other message stays within 30000.
 */
export const SMALL_FRAME_LENGTH = 30_000;
export const AUTH_FRAME_LENGTH = 2_000;
export type FrameStage = 'startup' | 'session';

const LONG_TAGS = new Set([
  0x54, // 'T' RowDescription
  0x44, // 'D' DataRow
  0x64, // 'd' CopyData
  0x45, // 'E' ErrorResponse
  0x4e, // 'N' NoticeResponse
  0x41, // 'A' NotificationResponse
]);
const AUTH_TAGS = new Set([
  0x52, // 'R' Authentication*
  0x76, // 'v' NegotiateProtocolVersion
]);

/** Piece tags (see the header): CopyData's tag with a bit above the byte. */
export const PIECE_FIRST = 0x100 | 0x64;
export const PIECE_MORE = 0x200 | 0x64;
export const PIECE_LAST = 0x400 | 0x64;
/** The first piece holds exactly this many bytes (an XLogData header is 25). */
export const PIECE_HEAD = 64;

export function isPiece(tag: number): boolean {
  return tag === PIECE_FIRST || tag === PIECE_MORE || tag === PIECE_LAST;
}

export type FrameHandler = (tag: number, body: Buffer) => void;
/**
 * A frame's body as `buf[start..end)`, without a view made for it: the wire queues these, and the
 * replication stream reads an XLogData's header from them and makes one view, of its payload only.
 */
export type RangeHandler = (tag: number, buf: Buffer, start: number, end: number) => void;

export class FrameDecoder {
  /** Header bytes of a frame whose 5-byte header itself was split. */
  private readonly header = Buffer.alloc(5);
  private headerHave = 0;
  /** The frame being assembled across chunks, its tag, and how much of its body has arrived. */
  private partial: Buffer | undefined;
  private partialTag = 0;
  private partialHave = 0;
  /** Body bytes of a pieced frame not handed out yet (0: none in progress). */
  private pieceLeft = 0;
  /** The first piece being gathered (undefined once it was handed out). */
  private pieceHead: Buffer | undefined;
  private pieceHeadHave = 0;
  private pieceAbove = Number.POSITIVE_INFINITY;

  /** Which caps apply (see SMALL_FRAME_LENGTH); the connection moves to 'session' after startup. */
  stage: FrameStage;

  constructor(
    private readonly maxFrameLength = MAX_FRAME_LENGTH,
    stage: FrameStage = 'session',
  ) {
    this.stage = stage;
  }

  /**
   * CopyData bodies longer than this that a chunk does not hold whole are handed out in pieces
   * (see the header); Infinity (the default) assembles every frame. A frame already in pieces stays so.
   */
  set pieceBytes(bytes: number) {
    if (!(bytes >= PIECE_HEAD)) throw new RangeError(`pieceBytes must be at least ${PIECE_HEAD}`);
    this.pieceAbove = bytes;
  }

  get pieceBytes(): number {
    return this.pieceAbove;
  }

  /** The largest length a message with this tag may claim in the current stage. */
  capFor(tag: number): number {
    if (this.stage === 'startup') return AUTH_TAGS.has(tag) ? AUTH_FRAME_LENGTH : SMALL_FRAME_LENGTH;
    return LONG_TAGS.has(tag) ? this.maxFrameLength : Math.min(SMALL_FRAME_LENGTH, this.maxFrameLength);
  }

  /** True when some bytes of an unfinished frame are held: a socket closing now truncated a frame. */
  get midFrame(): boolean {
    return this.headerHave > 0 || this.partial !== undefined || this.pieceLeft > 0;
  }

  /** Feeds one chunk; calls `onFrame` for each frame it completes, in order. */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    this.pushRanges(chunk, (tag, buf, start, end) =>
      onFrame(tag, start === 0 && end === buf.length ? buf : buf.subarray(start, end)),
    );
  }

  /** As push, each body handed out as a range of a buffer (see RangeHandler). */
  pushRanges(chunk: Buffer, onFrame: RangeHandler): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.pieceLeft > 0) {
        pos = this.pushPiece(chunk, pos, onFrame);
        continue;
      }
      if (this.partial !== undefined) {
        const want = this.partial.length - this.partialHave;
        const take = Math.min(want, n - pos);
        chunk.copy(this.partial, this.partialHave, pos, pos + take);
        this.partialHave += take;
        pos += take;
        if (this.partialHave === this.partial.length) {
          const body = this.partial;
          this.partial = undefined;
          onFrame(this.partialTag, body, 0, body.length);
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
        onFrame(tag, chunk, bodyStart, bodyEnd);
      } else {
        this.startPartial(tag, length - 4);
        pos = bodyStart;
      }
    }
  }

  private beginBody(tag: number, length: number, onFrame: RangeHandler): void {
    this.check(tag, length);
    if (length === 4) {
      onFrame(tag, EMPTY, 0, 0);
      return;
    }
    this.startPartial(tag, length - 4);
  }

  /** A body that continues past the chunk: assembled at its final size, or handed out in pieces. */
  private startPartial(tag: number, bodyLength: number): void {
    if (tag === 0x64 && bodyLength > this.pieceAbove) {
      this.pieceLeft = bodyLength;
      this.pieceHead = Buffer.allocUnsafe(PIECE_HEAD);
      this.pieceHeadHave = 0;
      return;
    }
    this.partial = Buffer.allocUnsafe(bodyLength);
    this.partialTag = tag;
    this.partialHave = 0;
  }

  /** Hands out what `chunk` holds of a pieced frame from `pos`; returns where the chunk goes on. */
  private pushPiece(chunk: Buffer, pos: number, onFrame: RangeHandler): number {
    const head = this.pieceHead;
    const take0 = Math.min(this.pieceLeft, chunk.length - pos);
    if (head !== undefined) {
      const take = Math.min(PIECE_HEAD - this.pieceHeadHave, take0);
      chunk.copy(head, this.pieceHeadHave, pos, pos + take);
      this.pieceHeadHave += take;
      this.pieceLeft -= take;
      if (this.pieceHeadHave === PIECE_HEAD) {
        this.pieceHead = undefined;
        // pieceAbove >= PIECE_HEAD, so a pieced body always goes on after its first piece.
        onFrame(PIECE_FIRST, head, 0, head.length);
      }
      return pos + take;
    }
    this.pieceLeft -= take0;
    onFrame(this.pieceLeft === 0 ? PIECE_LAST : PIECE_MORE, chunk, pos, pos + take0);
    return pos + take0;
  }

  private check(tag: number, length: number): void {
    if (length < 4) {
      throw new ProtocolError(
        'WALDUCK_FRAME_TOO_SHORT',
        'stream',
        `message '${printable(tag)}' claims length ${length}; the minimum is 4 (the length itself)`,
      );
    }
    const cap = this.capFor(tag);
    if (length > cap) {
      const why =
        cap === this.maxFrameLength
          ? 'more than PostgreSQL can send'
          : `more than this message type may carry ${this.stage === 'startup' ? 'before the session is up' : 'in a session'} (${cap})`;
      throw new ProtocolError(
        'WALDUCK_FRAME_TOO_LARGE',
        'stream',
        `message '${printable(tag)}' claims length ${length}, ${why}: not a PostgreSQL server, or the stream is corrupt`,
      );
    }
  }
}

/** A tag for an error line: the character if printable ASCII, else its hex (a hostile byte stays inert). */
function printable(tag: number): string {
  return tag >= 0x20 && tag < 0x7f ? String.fromCharCode(tag) : `0x${tag.toString(16).padStart(2, '0')}`;
}
