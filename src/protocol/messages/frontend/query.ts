// Query ('Q'): Byte1('Q') Int32 len, String query. The simple query protocol: the only one a
// replication connection accepts, and the carrier of every replication command.

import { ArgumentError } from '../../errors.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const QUERY = 0x51; // 'Q'

export interface Query {
  readonly type: 'Query';
  readonly sql: string;
}

export function encodeQuery(m: Query): Buffer {
  // A NUL would end the string early and the server would run a prefix of what was meant.
  if (m.sql.includes('\0')) throw new ArgumentError('query text contains a NUL character');
  return new Writer(QUERY, m.sql.length + 8).cstring(m.sql).finish();
}

export function decodeQuery(body: Buffer): Query {
  const r = new Reader(body, 'Query');
  const m: Query = { type: 'Query', sql: r.cstring() };
  r.end();
  return m;
}
