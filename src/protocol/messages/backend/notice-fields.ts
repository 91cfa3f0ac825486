// ErrorResponse ('E') and NoticeResponse ('N') share one body: a list of (Byte1 field code, String
// value) pairs ended by a zero byte. The field codes are PostgreSQL's; unknown codes must be ignored.
// https://www.postgresql.org/docs/current/protocol-error-fields.html

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** Every field PostgreSQL documents, by our name. `severity` is the localized one, `severityCode` never is. */
export interface NoticeFields {
  readonly severity: string;
  readonly severityCode?: string;
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
  readonly internalPosition?: string;
  readonly internalQuery?: string;
  readonly where?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly dataType?: string;
  readonly constraint?: string;
  readonly file?: string;
  readonly line?: string;
  readonly routine?: string;
}

type Key = Exclude<keyof NoticeFields, never>;

const CODES: Readonly<Record<string, Key>> = {
  S: 'severity',
  V: 'severityCode',
  C: 'sqlstate',
  M: 'message',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
};

const KEYS: ReadonlyArray<[string, Key]> = Object.entries(CODES);

export function decodeNoticeFields(body: Buffer, what: string): NoticeFields {
  const r = new Reader(body, what);
  const out: Record<string, string> = {};
  for (let code = r.u8(); code !== 0; code = r.u8()) {
    const value = r.cstring();
    const key = CODES[String.fromCharCode(code)];
    if (key) out[key] = value;
  }
  r.end();
  // The three fields PostgreSQL always sends; a missing one is filled rather than crashing a caller.
  out.severity ??= out.severityCode ?? 'ERROR';
  out.sqlstate ??= 'XX000';
  out.message ??= '(no message)';
  return out as unknown as NoticeFields;
}

export function encodeNoticeFields(tag: number, f: NoticeFields): Buffer {
  const w = new Writer(tag, 128);
  for (const [code, key] of KEYS) {
    const v = f[key];
    if (v !== undefined) w.u8(code.charCodeAt(0)).cstring(v);
  }
  return w.u8(0).finish();
}
