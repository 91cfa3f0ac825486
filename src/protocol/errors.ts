// Every failure the protocol layer reports is one of these classes. Each has a stable `code` (for
// programs) and the `phase` that failed (for people: "it broke during auth" says where to look).

/** Where in a connection's life the failure happened. */
export type Phase = 'connect' | 'tls' | 'auth' | 'startup' | 'command' | 'stream';

export abstract class WalduckProtocolError extends Error {
  abstract readonly code: string;
  readonly phase: Phase;
  constructor(phase: Phase, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.phase = phase;
  }
}

export type ConfigErrorCode = 'BAD_CONNINFO' | 'BAD_URL' | 'BAD_SETTING' | 'UNSUPPORTED_SETTING';

/** The connection string, URL or environment could not be understood. Nothing was sent anywhere. */
export class ConfigError extends WalduckProtocolError {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  constructor(code: ConfigErrorCode, message: string) {
    super('connect', message);
    this.code = code;
  }
}

export type ConnectionErrorCode =
  | 'CONNECT_FAILED'
  | 'CONNECT_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'CONNECTION_CLOSED'
  | 'RECEIVE_TIMEOUT'
  | 'TLS_NOT_SUPPORTED'
  | 'TLS_FAILED'
  | 'BUSY'
  | 'STREAM_ENDED'
  | 'RESTREAM_UNSUPPORTED';

/** The socket could not be opened, upgraded, or it went away; or the connection is in the wrong state. */
export class ConnectionError extends WalduckProtocolError {
  override readonly name = 'ConnectionError';
  readonly code: ConnectionErrorCode;
  constructor(code: ConnectionErrorCode, phase: Phase, message: string, options?: { cause?: unknown }) {
    super(phase, message, options);
    this.code = code;
  }
}

export type AuthErrorCode =
  | 'AUTH_METHOD_NOT_ALLOWED'
  | 'AUTH_METHOD_UNSUPPORTED'
  | 'PASSWORD_MISSING'
  | 'CHANNEL_BINDING_REQUIRED'
  | 'CHANNEL_BINDING_UNAVAILABLE'
  | 'SCRAM_BAD_MESSAGE'
  | 'SCRAM_BAD_NONCE'
  | 'SCRAM_ITERATIONS'
  | 'SCRAM_SERVER_ERROR'
  | 'SCRAM_BAD_SERVER_SIGNATURE'
  | 'SCRAM_INCOMPLETE';

/** Authentication could not proceed on our side, or the server failed to prove who it is. */
export class AuthError extends WalduckProtocolError {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string) {
    super('auth', message);
    this.code = code;
  }
}

export type ProtocolErrorCode =
  | 'FRAME_TOO_SHORT'
  | 'FRAME_TOO_LARGE'
  | 'TRUNCATED_FRAME'
  | 'MALFORMED_MESSAGE'
  | 'UNKNOWN_MESSAGE'
  | 'UNEXPECTED_MESSAGE'
  | 'SSL_RESPONSE_INVALID'
  | 'BAD_RESULT'
  | 'LIMIT_EXCEEDED';

/** The server (or whatever answered) sent bytes that break the protocol. The connection is unusable. */
export class ProtocolError extends WalduckProtocolError {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, phase: Phase, message: string, options?: { cause?: unknown }) {
    super(phase, message, options);
    this.code = code;
  }
}

/** A message that makes the layer refuse an argument before anything is sent (bad slot name, NUL byte). */
export class ArgumentError extends WalduckProtocolError {
  override readonly name = 'ArgumentError';
  readonly code = 'BAD_ARGUMENT';
  constructor(message: string) {
    super('command', message);
  }
}

/** The same protocol error, attributed to the phase the caller was in (decoders do not know it). */
export function inPhase(err: unknown, phase: Phase): unknown {
  if (err instanceof ProtocolError && err.phase !== phase) {
    return new ProtocolError(err.code, phase, err.message, { cause: err.cause });
  }
  return err;
}
