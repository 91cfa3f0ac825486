// The one shape of every error walduck raises: a stable `code` (for programs) and the `phase` that
// failed (for people: "it broke during auth" says where to look). Codes raised by walduck start with
// WALDUCK_; an error the server sent (PgServerError) carries the server's own stable code, its SQLSTATE.
// The base lives here because src/protocol is vendored on its own; the other rooms extend it.

/** Every error walduck raises. `phase` names the step that failed; each room has its own phases. */
export abstract class WalduckError extends Error {
  abstract readonly code: string;
  abstract readonly phase: string;
}

/** Where in a connection's life the failure happened. */
export type Phase = 'connect' | 'tls' | 'auth' | 'startup' | 'command' | 'stream';

export abstract class WalduckProtocolError extends WalduckError {
  abstract override readonly code: string;
  readonly phase: Phase;
  constructor(phase: Phase, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.phase = phase;
  }
}

/**
 * A state the code rules out was reached anyway (a union member no switch handles, a method called out
 * of order): a bug in walduck, said as one, never a silent skip.
 */
export class InternalError extends WalduckError {
  override readonly name = 'InternalError';
  readonly code = 'WALDUCK_INTERNAL';
  constructor(
    readonly phase: string,
    message: string,
  ) {
    super(`${message} (a bug in walduck: please report it)`);
  }
}

export type ConfigErrorCode =
  | 'WALDUCK_BAD_CONNINFO'
  | 'WALDUCK_BAD_URL'
  | 'WALDUCK_BAD_SETTING'
  | 'WALDUCK_UNSUPPORTED_SETTING';

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
  | 'WALDUCK_CONNECT_FAILED'
  | 'WALDUCK_CONNECT_TIMEOUT'
  | 'WALDUCK_CONNECT_ABANDONED'
  | 'WALDUCK_CONNECTION_LOST'
  | 'WALDUCK_CONNECTION_CLOSED'
  | 'WALDUCK_RECEIVE_TIMEOUT'
  | 'WALDUCK_TLS_NOT_SUPPORTED'
  | 'WALDUCK_TLS_FAILED'
  | 'WALDUCK_BUSY'
  | 'WALDUCK_STREAM_ENDED'
  | 'WALDUCK_RESTREAM_UNSUPPORTED';

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
  | 'WALDUCK_AUTH_METHOD_NOT_ALLOWED'
  | 'WALDUCK_AUTH_METHOD_UNSUPPORTED'
  | 'WALDUCK_PASSWORD_MISSING'
  | 'WALDUCK_CHANNEL_BINDING_REQUIRED'
  | 'WALDUCK_CHANNEL_BINDING_UNAVAILABLE'
  | 'WALDUCK_SCRAM_BAD_MESSAGE'
  | 'WALDUCK_SCRAM_BAD_NONCE'
  | 'WALDUCK_SCRAM_ITERATIONS'
  | 'WALDUCK_SCRAM_SERVER_ERROR'
  | 'WALDUCK_SCRAM_BAD_SERVER_SIGNATURE'
  | 'WALDUCK_SCRAM_INCOMPLETE';

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
  | 'WALDUCK_FRAME_TOO_SHORT'
  | 'WALDUCK_FRAME_TOO_LARGE'
  | 'WALDUCK_TRUNCATED_FRAME'
  | 'WALDUCK_MALFORMED_MESSAGE'
  | 'WALDUCK_UNKNOWN_MESSAGE'
  | 'WALDUCK_UNEXPECTED_MESSAGE'
  | 'WALDUCK_SSL_RESPONSE_INVALID'
  | 'WALDUCK_BAD_RESULT'
  | 'WALDUCK_LIMIT_EXCEEDED';

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
  readonly code = 'WALDUCK_BAD_ARGUMENT';
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
