// Standby status update, inside a client CopyData: Byte1('r'), Int64 write, Int64 flush, Int64 apply
// (each the LSN + 1 of the last byte so handled), Int64 clientTime, Byte1 replyRequested.
// For a logical slot the server moves confirmed_flush_lsn to `flush`: WAL before it may be recycled
// and changes before it are never sent again. So `flush` must only ever be what the caller committed.

import type { Lsn } from '../lsn.js';
import { Reader } from '../reader.js';

export const STANDBY_STATUS_UPDATE = 0x72; // 'r'

export interface StandbyStatusUpdate {
  readonly type: 'StandbyStatusUpdate';
  readonly write: Lsn;
  readonly flush: Lsn;
  readonly apply: Lsn;
  readonly clientTime: bigint;
  readonly replyRequested: boolean;
}

export function encodeStandbyStatusUpdate(m: StandbyStatusUpdate): Buffer {
  const b = Buffer.allocUnsafe(34);
  b[0] = STANDBY_STATUS_UPDATE;
  b.writeBigUInt64BE(m.write, 1);
  b.writeBigUInt64BE(m.flush, 9);
  b.writeBigUInt64BE(m.apply, 17);
  b.writeBigInt64BE(m.clientTime, 25);
  b[33] = m.replyRequested ? 1 : 0;
  return b;
}

export function decodeStandbyStatusUpdate(body: Buffer): StandbyStatusUpdate {
  const r = new Reader(body, 'StandbyStatusUpdate', 1);
  const m: StandbyStatusUpdate = {
    type: 'StandbyStatusUpdate',
    write: r.u64(),
    flush: r.u64(),
    apply: r.u64(),
    clientTime: r.i64(),
    replyRequested: r.u8() !== 0,
  };
  r.end();
  return m;
}
