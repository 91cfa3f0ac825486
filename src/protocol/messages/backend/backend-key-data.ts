// BackendKeyData ('K'): Byte1('K') Int32 len(12), Int32 process id, Int32 secret key (for CancelRequest).

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const BACKEND_KEY_DATA = 0x4b; // 'K'

export interface BackendKeyData {
  readonly type: 'BackendKeyData';
  readonly pid: number;
  readonly secretKey: number;
}

export function decodeBackendKeyData(body: Buffer): BackendKeyData {
  const r = new Reader(body, 'BackendKeyData');
  const m: BackendKeyData = { type: 'BackendKeyData', pid: r.i32(), secretKey: r.i32() };
  r.end();
  return m;
}

export function encodeBackendKeyData(m: BackendKeyData): Buffer {
  return new Writer(BACKEND_KEY_DATA).i32(m.pid).i32(m.secretKey).finish();
}
