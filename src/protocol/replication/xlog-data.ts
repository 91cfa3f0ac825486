// XLogData, inside a server CopyData: Byte1('w'), Int64 dataStart (WAL position of this payload),
// Int64 walEnd (server's current end of WAL), Int64 serverTime (µs since 2000-01-01), Byte[n] payload.
// For logical replication the payload is one output-plugin message (a wal2json JSON document).
// https://www.postgresql.org/docs/current/protocol-replication.html

import type { Lsn } from '../lsn.js';
import { i64At, Reader, u64At } from '../reader.js';

export const XLOG_DATA = 0x77; // 'w'

/** The 24 bytes after the 'w': read here and only here (the stream also reads them on arrival). */
export interface XLogDataHeader {
  readonly dataStart: Lsn;
  readonly walEnd: Lsn;
  readonly serverTime: bigint;
}

export interface XLogData extends XLogDataHeader {
  readonly type: 'XLogData';
  /** A view into the received frame; never overwritten by this layer (see README: view lifetime). */
  readonly data: Buffer;
  /**
   * true: the payload goes on in the next message, which carries the same header (a long XLogData
   * handed out in pieces as it arrives, see StartReplicationOptions.pieceBytes). Absent: whole.
   */
  readonly more?: boolean;
}

/** `body` is the whole CopyData body, starting with the 'w'. */
export function decodeXLogDataHeader(body: Buffer): XLogDataHeader {
  checkLength(body);
  return { dataStart: u64At(body, 1), walEnd: u64At(body, 9), serverTime: i64At(body, 17) };
}

/** `body` is the whole CopyData body, starting with the 'w'. */
export function decodeXLogData(body: Buffer): XLogData {
  return decodeXLogDataAt(body, 0, body.length);
}

/**
 * The CopyData body `buf[start..end)`, starting with the 'w'. On the hot path, once per message: one
 * object and one view (of the payload), no intermediate header.
 */
export function decodeXLogDataAt(buf: Buffer, start: number, end: number): XLogData {
  if (end - start < 25) checkLength(buf.subarray(start, end));
  return {
    type: 'XLogData',
    dataStart: u64At(buf, start + 1),
    walEnd: u64At(buf, start + 9),
    serverTime: i64At(buf, start + 17),
    data: buf.subarray(start + 25, end),
  };
}

function checkLength(body: Buffer): void {
  if (body.length < 25) new Reader(body, 'XLogData', 1).bytes(24); // throws the precise error
}

/** The CopyData body (not the whole frame). For tests, fake servers and benches. */
export function encodeXLogData(m: XLogData): Buffer {
  const b = Buffer.allocUnsafe(25 + m.data.length);
  b[0] = XLOG_DATA;
  b.writeBigUInt64BE(m.dataStart, 1);
  b.writeBigUInt64BE(m.walEnd, 9);
  b.writeBigInt64BE(m.serverTime, 17);
  b.set(m.data, 25);
  return b;
}
