// CopyData ('d'), sent in both directions: Byte1('d') Int32 len, Byte[n] data. During replication every
// XLogData, keepalive and status update travels inside one (see ../replication/).

import { Writer } from '../writer.js';

export const COPY_DATA = 0x64; // 'd'

export interface CopyData {
  readonly type: 'CopyData';
  readonly data: Buffer;
}

export function decodeCopyData(body: Buffer): CopyData {
  return { type: 'CopyData', data: body };
}

export function encodeCopyData(m: CopyData): Buffer {
  return new Writer(COPY_DATA, m.data.length + 5).bytes(m.data).finish();
}
