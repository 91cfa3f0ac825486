// CommandComplete ('C'): Byte1('C') Int32 len, String command tag ("SELECT 1", "CREATE_REPLICATION_SLOT").

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const COMMAND_COMPLETE = 0x43; // 'C'

export interface CommandComplete {
  readonly type: 'CommandComplete';
  readonly tag: string;
}

export function decodeCommandComplete(body: Buffer): CommandComplete {
  const r = new Reader(body, 'CommandComplete');
  const m: CommandComplete = { type: 'CommandComplete', tag: r.cstring() };
  r.end();
  return m;
}

export function encodeCommandComplete(m: CommandComplete): Buffer {
  return new Writer(COMMAND_COMPLETE).cstring(m.tag).finish();
}
