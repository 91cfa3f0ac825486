// What the server sends inside CopyData during streaming: the first byte says which.

import { ProtocolError } from '../errors.js';
import { decodePrimaryKeepalive, PRIMARY_KEEPALIVE, type PrimaryKeepalive } from './primary-keepalive.js';
import { decodeXLogData, XLOG_DATA, type XLogData } from './xlog-data.js';

export type StreamMessage = XLogData | PrimaryKeepalive;

export function decodeStreamMessage(copyData: Buffer): StreamMessage {
  const kind = copyData[0];
  if (kind === XLOG_DATA) return decodeXLogData(copyData);
  if (kind === PRIMARY_KEEPALIVE) return decodePrimaryKeepalive(copyData);
  throw new ProtocolError(
    'WALDUCK_UNKNOWN_MESSAGE',
    'stream',
    kind === undefined
      ? 'empty CopyData during replication'
      : `unknown replication message 0x${kind.toString(16)} ('${String.fromCharCode(kind)}') in CopyData`,
  );
}
