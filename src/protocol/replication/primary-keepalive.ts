// Primary keepalive, inside a server CopyData: Byte1('k'), Int64 walEnd, Int64 serverTime,
// Byte1 replyRequested (1 = answer at once or the server may drop us at wal_sender_timeout).

import type { Lsn } from '../lsn.js';
import { Reader } from '../reader.js';

export const PRIMARY_KEEPALIVE = 0x6b; // 'k'

export interface PrimaryKeepalive {
  readonly type: 'PrimaryKeepalive';
  readonly walEnd: Lsn;
  readonly serverTime: bigint;
  readonly replyRequested: boolean;
}

export function decodePrimaryKeepalive(body: Buffer): PrimaryKeepalive {
  const r = new Reader(body, 'PrimaryKeepalive', 1);
  const m: PrimaryKeepalive = {
    type: 'PrimaryKeepalive',
    walEnd: r.u64(),
    serverTime: r.i64(),
    replyRequested: r.u8() !== 0,
  };
  r.end();
  return m;
}

export function encodePrimaryKeepalive(m: PrimaryKeepalive): Buffer {
  const b = Buffer.allocUnsafe(18);
  b[0] = PRIMARY_KEEPALIVE;
  b.writeBigUInt64BE(m.walEnd, 1);
  b.writeBigInt64BE(m.serverTime, 9);
  b[17] = m.replyRequested ? 1 : 0;
  return b;
}
