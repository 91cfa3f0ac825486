// CopyDone ('c'), sent in both directions: Byte1('c') Int32 len(4). Either side ends its half of the
// copy-both stream with it; a clean stop is CopyDone out, then the server's CopyDone back.

import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

export const COPY_DONE = 0x63; // 'c'

export interface CopyDone {
  readonly type: 'CopyDone';
}

export function decodeCopyDone(body: Buffer): CopyDone {
  new Reader(body, 'CopyDone').end();
  return { type: 'CopyDone' };
}

export function encodeCopyDone(_m?: CopyDone): Buffer {
  return new Writer(COPY_DONE).finish();
}
