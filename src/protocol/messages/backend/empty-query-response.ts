// EmptyQueryResponse ('I'): Byte1('I') Int32 len(4). Stands in for CommandComplete when the query
// string held no statement.

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const EMPTY_QUERY_RESPONSE = 0x49; // 'I'

export interface EmptyQueryResponse {
  readonly type: 'EmptyQueryResponse';
}

export function decodeEmptyQueryResponse(body: Buffer): EmptyQueryResponse {
  new Reader(body, 'EmptyQueryResponse').end();
  return { type: 'EmptyQueryResponse' };
}

export function encodeEmptyQueryResponse(_m: EmptyQueryResponse): Buffer {
  return new Writer(EMPTY_QUERY_RESPONSE).finish();
}
