// Terminate ('X'): Byte1('X') Int32 len(4). Tells the server we are leaving on purpose, so it logs
// no "unexpected EOF" and releases the slot at once.

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const TERMINATE = 0x58; // 'X'

export interface Terminate {
  readonly type: 'Terminate';
}

export function encodeTerminate(_m?: Terminate): Buffer {
  return new Writer(TERMINATE).finish();
}

export function decodeTerminate(body: Buffer): Terminate {
  new Reader(body, 'Terminate').end();
  return { type: 'Terminate' };
}
