// The public API of the protocol layer. Everything else in src/protocol is internal but importable
// (tests, benches and the trace CLI use the message codecs directly).

export type { AuthMethodName, ChannelBindingMode, ConnectionSettings, SslMode } from './config.js';
export { describeSettings, parseConnectionString } from './config.js';
export type { Connection, ConnectOptions } from './connection.js';
export { connect } from './connection.js';
export type { CopyOutOptions } from './copy-out.js';
export type { Phase } from './errors.js';
export {
  ArgumentError,
  AuthError,
  ConfigError,
  ConnectionError,
  InternalError,
  ProtocolError,
  WalduckError,
  WalduckProtocolError,
} from './errors.js';
export type { Lsn } from './lsn.js';
export { formatLsn, INVALID_LSN, parseLsn } from './lsn.js';
export type { NoticeFields } from './messages/backend/notice-fields.js';
export { dateToPgTime, pgNow, pgTimeToDate } from './pg-time.js';
export type {
  CreateReplicationSlotOptions,
  CreateReplicationSlotResult,
  IdentifySystemResult,
  PluginOption,
  QueryResult,
  ReadReplicationSlotResult,
} from './replication/commands.js';
export type { PrimaryKeepalive } from './replication/primary-keepalive.js';
export type { ReplicationStream, StartReplicationOptions } from './replication/stream.js';
export { DEFAULT_PIECE_BYTES } from './replication/stream.js';
export type { StreamMessage } from './replication/stream-message.js';
export type { XLogData } from './replication/xlog-data.js';
export { PgServerError } from './server-error.js';
export type { TraceEvent, TraceFn } from './trace.js';
export { renderTraceEvent } from './trace.js';
export type { LogFn } from './wire.js';
