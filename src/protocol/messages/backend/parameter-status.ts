// ParameterStatus ('S'): Byte1('S') Int32 len, String name, String value. Sent after startup for each
// reported setting (server_version, client_encoding, ...) and again whenever one changes.

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const PARAMETER_STATUS = 0x53; // 'S'

export interface ParameterStatus {
  readonly type: 'ParameterStatus';
  readonly name: string;
  readonly value: string;
}

export function decodeParameterStatus(body: Buffer): ParameterStatus {
  const r = new Reader(body, 'ParameterStatus');
  const m: ParameterStatus = { type: 'ParameterStatus', name: r.cstring(), value: r.cstring() };
  r.end();
  return m;
}

export function encodeParameterStatus(m: ParameterStatus): Buffer {
  return new Writer(PARAMETER_STATUS).cstring(m.name).cstring(m.value).finish();
}
