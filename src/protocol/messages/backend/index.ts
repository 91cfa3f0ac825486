// Every message the server sends, as one union, with a single dispatch on the tag byte.

import { ProtocolError } from '../../errors.js';
import { COPY_DATA, type CopyData, decodeCopyData, encodeCopyData } from '../copy-data.js';
import { COPY_DONE, type CopyDone, decodeCopyDone, encodeCopyDone } from '../copy-done.js';
import {
  AUTHENTICATION,
  type Authentication,
  decodeAuthentication,
  encodeAuthentication,
} from './authentication.js';
import {
  BACKEND_KEY_DATA,
  type BackendKeyData,
  decodeBackendKeyData,
  encodeBackendKeyData,
} from './backend-key-data.js';
import {
  COMMAND_COMPLETE,
  type CommandComplete,
  decodeCommandComplete,
  encodeCommandComplete,
} from './command-complete.js';
import {
  COPY_BOTH_RESPONSE,
  type CopyBothResponse,
  decodeCopyBothResponse,
  encodeCopyBothResponse,
} from './copy-both-response.js';
import { DATA_ROW, type DataRow, decodeDataRow, encodeDataRow } from './data-row.js';
import {
  decodeEmptyQueryResponse,
  EMPTY_QUERY_RESPONSE,
  type EmptyQueryResponse,
  encodeEmptyQueryResponse,
} from './empty-query-response.js';
import {
  decodeErrorResponse,
  ERROR_RESPONSE,
  type ErrorResponse,
  encodeErrorResponse,
} from './error-response.js';
import {
  decodeNegotiateProtocolVersion,
  encodeNegotiateProtocolVersion,
  NEGOTIATE_PROTOCOL_VERSION,
  type NegotiateProtocolVersion,
} from './negotiate-protocol-version.js';
import {
  decodeNoticeResponse,
  encodeNoticeResponse,
  NOTICE_RESPONSE,
  type NoticeResponse,
} from './notice-response.js';
import {
  decodeNotificationResponse,
  encodeNotificationResponse,
  NOTIFICATION_RESPONSE,
  type NotificationResponse,
} from './notification-response.js';
import {
  decodeParameterStatus,
  encodeParameterStatus,
  PARAMETER_STATUS,
  type ParameterStatus,
} from './parameter-status.js';
import {
  decodeReadyForQuery,
  encodeReadyForQuery,
  READY_FOR_QUERY,
  type ReadyForQuery,
} from './ready-for-query.js';
import {
  decodeRowDescription,
  encodeRowDescription,
  ROW_DESCRIPTION,
  type RowDescription,
} from './row-description.js';

export type BackendMessage =
  | Authentication
  | BackendKeyData
  | CommandComplete
  | CopyBothResponse
  | CopyData
  | CopyDone
  | DataRow
  | EmptyQueryResponse
  | ErrorResponse
  | NegotiateProtocolVersion
  | NoticeResponse
  | NotificationResponse
  | ParameterStatus
  | ReadyForQuery
  | RowDescription;

export function decodeBackendMessage(tag: number, body: Buffer): BackendMessage {
  switch (tag) {
    case AUTHENTICATION:
      return decodeAuthentication(body);
    case BACKEND_KEY_DATA:
      return decodeBackendKeyData(body);
    case COMMAND_COMPLETE:
      return decodeCommandComplete(body);
    case COPY_BOTH_RESPONSE:
      return decodeCopyBothResponse(body);
    case COPY_DATA:
      return decodeCopyData(body);
    case COPY_DONE:
      return decodeCopyDone(body);
    case DATA_ROW:
      return decodeDataRow(body);
    case EMPTY_QUERY_RESPONSE:
      return decodeEmptyQueryResponse(body);
    case ERROR_RESPONSE:
      return decodeErrorResponse(body);
    case NEGOTIATE_PROTOCOL_VERSION:
      return decodeNegotiateProtocolVersion(body);
    case NOTICE_RESPONSE:
      return decodeNoticeResponse(body);
    case NOTIFICATION_RESPONSE:
      return decodeNotificationResponse(body);
    case PARAMETER_STATUS:
      return decodeParameterStatus(body);
    case READY_FOR_QUERY:
      return decodeReadyForQuery(body);
    case ROW_DESCRIPTION:
      return decodeRowDescription(body);
    default:
      throw new ProtocolError(
        'WALDUCK_UNKNOWN_MESSAGE',
        'stream',
        `unknown backend message tag 0x${tag.toString(16).padStart(2, '0')} ('${String.fromCharCode(tag)}'): not a PostgreSQL server, or the stream is corrupt`,
      );
  }
}

/** Whole frame (tag, length, body): what a server would send. For tests and fake servers. */
export function encodeBackendMessage(m: BackendMessage): Buffer {
  switch (m.type) {
    case 'AuthenticationOk':
    case 'AuthenticationCleartextPassword':
    case 'AuthenticationMD5Password':
    case 'AuthenticationSASL':
    case 'AuthenticationSASLContinue':
    case 'AuthenticationSASLFinal':
    case 'AuthenticationUnsupported':
      return encodeAuthentication(m);
    case 'BackendKeyData':
      return encodeBackendKeyData(m);
    case 'CommandComplete':
      return encodeCommandComplete(m);
    case 'CopyBothResponse':
      return encodeCopyBothResponse(m);
    case 'CopyData':
      return encodeCopyData(m);
    case 'CopyDone':
      return encodeCopyDone(m);
    case 'DataRow':
      return encodeDataRow(m);
    case 'EmptyQueryResponse':
      return encodeEmptyQueryResponse(m);
    case 'ErrorResponse':
      return encodeErrorResponse(m);
    case 'NegotiateProtocolVersion':
      return encodeNegotiateProtocolVersion(m);
    case 'NoticeResponse':
      return encodeNoticeResponse(m);
    case 'NotificationResponse':
      return encodeNotificationResponse(m);
    case 'ParameterStatus':
      return encodeParameterStatus(m);
    case 'ReadyForQuery':
      return encodeReadyForQuery(m);
    case 'RowDescription':
      return encodeRowDescription(m);
    default:
      return m satisfies never;
  }
}
