// Tracing: every message in both directions as an event (name, length, decoded fields), and a renderer
// that makes each one a single readable line. Secrets never enter an event: the password message and
// SCRAM's proof are replaced by "[redacted]" before the trace function sees anything.

import { isPiece, PIECE_FIRST, PIECE_LAST } from './frame-decoder.js';
import { formatLsn } from './lsn.js';
import { type BackendMessage, decodeBackendMessage } from './messages/backend/index.js';
import type { FrontendMessage } from './messages/frontend/index.js';
import { pgTimeToDate } from './pg-time.js';
import { decodeStandbyStatusUpdate, STANDBY_STATUS_UPDATE } from './replication/standby-status-update.js';
import { decodeStreamMessage } from './replication/stream-message.js';

export interface TraceEvent {
  readonly direction: 'send' | 'recv';
  readonly name: string;
  /** The message's Int32 length field (body + 4), as PostgreSQL's own protocol trace shows it. */
  readonly length: number;
  readonly fields: Readonly<Record<string, unknown>>;
  /** Raw body bytes, for messages without secrets. */
  readonly bytes?: Uint8Array;
}

export type TraceFn = (e: TraceEvent) => void;

const REDACTED = '[redacted]';

function withoutType(m: { readonly type: string }): Record<string, unknown> {
  const { type: _type, ...rest } = m as Record<string, unknown>;
  return rest;
}

/** Event for a received frame. Decodes again (only when tracing is on), so the hot path stays lean. */
export function traceBackend(tag: number, body: Buffer): TraceEvent {
  if (isPiece(tag)) {
    // A long CopyData handed out as it arrives (frame-decoder.ts): one event per piece.
    const piece = tag === PIECE_FIRST ? 'first' : tag === PIECE_LAST ? 'last' : 'more';
    return { direction: 'recv', name: 'CopyData piece', length: body.length, fields: { piece }, bytes: body };
  }
  let m: BackendMessage;
  try {
    m = decodeBackendMessage(tag, body);
  } catch (err) {
    return {
      direction: 'recv',
      name: `Unparsable '${String.fromCharCode(tag)}'`,
      length: body.length + 4,
      fields: { error: (err as Error).message },
      bytes: body,
    };
  }
  if (m.type === 'CopyData') {
    try {
      const s = decodeStreamMessage(body);
      const fields =
        s.type === 'XLogData'
          ? {
              dataStart: s.dataStart,
              walEnd: s.walEnd,
              serverTime: s.serverTime,
              dataLength: s.data.length,
              data: s.data,
            }
          : withoutType(s);
      return { direction: 'recv', name: s.type, length: body.length + 4, fields, bytes: body };
    } catch {
      return {
        direction: 'recv',
        name: 'CopyData',
        length: body.length + 4,
        fields: { data: body },
        bytes: body,
      };
    }
  }
  if (m.type === 'AuthenticationSASLContinue' || m.type === 'AuthenticationSASLFinal') {
    return {
      direction: 'recv',
      name: m.type,
      length: body.length + 4,
      fields: { data: m.data.toString('utf8') },
      bytes: body,
    };
  }
  return { direction: 'recv', name: m.type, length: body.length + 4, fields: withoutType(m), bytes: body };
}

/** Event for a message we send; `wire` is its encoding (tag and length included where it has a tag). */
export function traceFrontend(m: FrontendMessage, wire: Buffer): TraceEvent {
  const tagged = m.type !== 'StartupMessage' && m.type !== 'SSLRequest';
  const length = tagged ? wire.length - 1 : wire.length;
  const body = wire.subarray(tagged ? 5 : 4);
  switch (m.type) {
    case 'PasswordMessage':
      return { direction: 'send', name: m.type, length, fields: { password: REDACTED } };
    case 'SASLInitialResponse':
      // client-first-message: the gs2 header and our nonce; no secret.
      return {
        direction: 'send',
        name: m.type,
        length,
        fields: { mechanism: m.mechanism, data: m.data?.toString('utf8') ?? null },
      };
    case 'SASLResponse':
      return {
        direction: 'send',
        name: m.type,
        length,
        fields: { data: m.data.toString('utf8').replace(/,p=[^,]*/, `,p=${REDACTED}`) },
      };
    case 'CopyData':
      if (m.data[0] === STANDBY_STATUS_UPDATE) {
        const s = decodeStandbyStatusUpdate(m.data);
        return { direction: 'send', name: s.type, length, fields: withoutType(s), bytes: body };
      }
      return { direction: 'send', name: m.type, length, fields: { data: m.data }, bytes: body };
    case 'StartupMessage':
      return {
        direction: 'send',
        name: m.type,
        length,
        fields: Object.fromEntries(m.parameters),
        bytes: body,
      };
    case 'Query':
      return { direction: 'send', name: m.type, length, fields: { sql: m.sql }, bytes: body };
    case 'CopyDone':
    case 'SSLRequest':
    case 'Terminate':
      return { direction: 'send', name: m.type, length, fields: {}, bytes: body };
    default:
      return m satisfies never;
  }
}

const EXPLAIN: Readonly<Record<string, string>> = {
  SSLRequest: 'asks the server whether it will speak TLS; it answers with one byte, S or N',
  SSLResponse: 'the one-byte answer to SSLRequest: S = start the TLS handshake now, N = no TLS',
  StartupMessage: 'opens the session: protocol 3.0, user, database, replication mode and session settings',
  PasswordMessage: 'the password (cleartext or md5 hash) the server asked for',
  SASLInitialResponse: 'SCRAM client-first: chosen mechanism, channel-binding flag and our nonce',
  SASLResponse: 'SCRAM client-final: channel binding, combined nonce and the proof that we know the password',
  Query: 'one SQL or replication command over the simple query protocol',
  CopyDone: 'ends this side of the copy stream',
  CopyData: 'a chunk of the copy stream',
  'CopyData piece': 'part of a long CopyData, handed on as it arrives instead of assembled',
  Terminate: 'says goodbye before closing the socket',
  StandbyStatusUpdate:
    'reports our positions: write = received, flush = apply = durably committed by the caller',
  AuthenticationOk: 'authentication succeeded',
  AuthenticationCleartextPassword: 'the server asks for the password in clear text',
  AuthenticationMD5Password: 'the server asks for an md5 hash of the password with this salt',
  AuthenticationSASL: 'the server offers these SASL mechanisms',
  AuthenticationSASLContinue: 'SCRAM server-first: combined nonce, salt and iteration count',
  AuthenticationSASLFinal:
    'SCRAM server-final: the server signature that proves the server knows the verifier',
  AuthenticationUnsupported: 'an authentication method this client does not speak',
  ParameterStatus: 'the current value of a reported server setting',
  BackendKeyData: 'process id and secret key, for cancelling requests',
  ReadyForQuery: 'the server is idle and waits for the next command (I idle, T in transaction, E failed)',
  ErrorResponse: 'the command failed',
  NoticeResponse: 'a warning or notice; the command goes on',
  RowDescription: 'the columns of the rows that follow',
  DataRow: 'one result row',
  CommandComplete: 'the command finished',
  EmptyQueryResponse: 'the query string was empty',
  CopyBothResponse: 'streaming starts: from now on both sides send CopyData',
  NegotiateProtocolVersion: 'the server does not support the requested minor version or options',
  NotificationResponse: 'a NOTIFY on a channel we listen to',
  XLogData: 'a payload of the output plugin at this WAL position',
  PrimaryKeepalive: 'the server is alive; its WAL end; whether it wants our status now',
};

function show(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    const text = b.subarray(0, 60).toString('utf8');
    const printable = /^[\x20-\x7e\t\n\r]*$/.test(text);
    const head = printable ? JSON.stringify(text) : `0x${b.subarray(0, 24).toString('hex')}`;
    return b.length > (printable ? 60 : 24) ? `${head}…(${b.length} bytes)` : head;
  }
  if (typeof v === 'string') return JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}…` : v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${show(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

const LSN_FIELDS = new Set(['dataStart', 'walEnd', 'write', 'flush', 'apply']);
const TIME_FIELDS = new Set(['serverTime', 'clientTime']);

function showField(key: string, v: unknown): string {
  if (typeof v === 'bigint' && LSN_FIELDS.has(key)) return formatLsn(v);
  if (typeof v === 'bigint' && TIME_FIELDS.has(key)) {
    const d = pgTimeToDate(v);
    return Number.isNaN(d.getTime()) ? String(v) : d.toISOString();
  }
  return show(v);
}

/** One line: "> Query (20) sql="IDENTIFY_SYSTEM"  # one SQL or replication command ...". */
export function renderTraceEvent(e: TraceEvent): string {
  const arrow = e.direction === 'send' ? '>' : '<';
  const fields = Object.entries(e.fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${showField(k, v)}`)
    .join(' ');
  const explain = EXPLAIN[e.name];
  return `${arrow} ${e.name} (${e.length})${fields ? ` ${fields}` : ''}${explain ? `  # ${explain}` : ''}`.replace(
    /[\r\n]+/g,
    ' ',
  );
}
