// ReadyForQuery ('Z'): Byte1('Z') Int32 len(5), Byte1 transaction status: 'I' idle, 'T' in a
// transaction block, 'E' in a failed transaction block. Ends every startup and every simple query.

import { ProtocolError } from '../../errors.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const READY_FOR_QUERY = 0x5a; // 'Z'

export type TransactionStatus = 'I' | 'T' | 'E';

export interface ReadyForQuery {
  readonly type: 'ReadyForQuery';
  readonly status: TransactionStatus;
}

export function decodeReadyForQuery(body: Buffer): ReadyForQuery {
  const r = new Reader(body, 'ReadyForQuery');
  const status = String.fromCharCode(r.u8());
  r.end();
  if (status !== 'I' && status !== 'T' && status !== 'E') {
    throw new ProtocolError(
      'WALDUCK_MALFORMED_MESSAGE',
      'command',
      `ReadyForQuery: unknown status '${status}'`,
    );
  }
  return { type: 'ReadyForQuery', status };
}

export function encodeReadyForQuery(m: ReadyForQuery): Buffer {
  return new Writer(READY_FOR_QUERY).u8(m.status.charCodeAt(0)).finish();
}
