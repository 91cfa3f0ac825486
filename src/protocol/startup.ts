// Startup: StartupMessage, the authentication exchange the server chooses, then ParameterStatus and
// BackendKeyData until the first ReadyForQuery.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP

import { tlsServerEndPoint } from './auth/channel-binding.js';
import { md5PasswordResponse } from './auth/md5.js';
import { type ChannelBinding, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramClient } from './auth/scram-sha-256.js';
import type { AuthMethodName, ConnectionSettings } from './config.js';
import { AuthError, ProtocolError } from './errors.js';
import { AUTHENTICATION, decodeAuthentication } from './messages/backend/authentication.js';
import { BACKEND_KEY_DATA, decodeBackendKeyData } from './messages/backend/backend-key-data.js';
import { decodeErrorResponse, ERROR_RESPONSE } from './messages/backend/error-response.js';
import {
  decodeNegotiateProtocolVersion,
  NEGOTIATE_PROTOCOL_VERSION,
} from './messages/backend/negotiate-protocol-version.js';
import { READY_FOR_QUERY } from './messages/backend/ready-for-query.js';
import { PgServerError } from './server-error.js';
import type { Wire } from './wire.js';

export interface StartupOptions {
  readonly replication: 'database' | false;
  /** DER of the server's TLS certificate, if TLS is on. */
  readonly peerCertificate: Buffer | undefined;
}

export interface StartupResult {
  readonly pid: number;
  readonly secretKey: number;
}

/**
 * Session settings that make text output (wal2json's too: it runs in this backend) independent of the
 * server's and the role's defaults: ISO dates, UTC, round-trip floats, hex bytea, plain intervals.
 */
export const SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, YMD'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['IntervalStyle', 'postgres'],
];

function startupParameters(s: ConnectionSettings, o: StartupOptions): [string, string][] {
  const p: [string, string][] = [
    ['user', s.user],
    ['database', s.database],
    ['application_name', s.applicationName],
  ];
  if (o.replication) p.push(['replication', o.replication]);
  for (const kv of SESSION_SETTINGS) p.push([kv[0], kv[1]]);
  if (s.options !== undefined) p.push(['options', s.options]);
  return p;
}

function allow(s: ConnectionSettings, method: AuthMethodName): void {
  if (s.requireAuth && !s.requireAuth.includes(method)) {
    throw new AuthError(
      'WALDUCK_AUTH_METHOD_NOT_ALLOWED',
      `the server asks for ${method === 'none' ? 'no authentication' : `"${method}" authentication`}, which require_auth does not allow (allowed: ${s.requireAuth.join(', ')}): refusing to continue`,
    );
  }
}

function needPassword(s: ConnectionSettings, method: string): string {
  if (s.password === undefined) {
    throw new AuthError(
      'WALDUCK_PASSWORD_MISSING',
      `the server asks for a password (${method}) for user "${s.user}" but none was given: set password= in the connection string, PGPASSWORD, or ~/.pgpass`,
    );
  }
  return s.password;
}

export async function startup(wire: Wire, s: ConnectionSettings, o: StartupOptions): Promise<StartupResult> {
  wire.phase = 'auth';
  wire.send({ type: 'StartupMessage', parameters: startupParameters(s, o) });
  let scram: ScramClient | undefined;
  let authenticated = false;
  let key: StartupResult = { pid: 0, secretKey: 0 };
  for (;;) {
    await wire.next();
    const { tag, body } = wire;
    switch (tag) {
      case AUTHENTICATION: {
        if (authenticated)
          throw new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'startup',
            'Authentication request after AuthenticationOk',
          );
        const m = decodeAuthentication(body);
        switch (m.type) {
          case 'AuthenticationOk':
            if (scram && !scram.verified) {
              // Only the real server can compute the signature in SASLFinal; an Ok without it is what
              // an impostor who does not know the verifier would send.
              throw new AuthError(
                'WALDUCK_SCRAM_INCOMPLETE',
                'the server said AuthenticationOk before proving its identity (no verified SCRAM server signature): refusing, possible impostor',
              );
            }
            if (!scram) allow(s, 'none');
            if (s.channelBinding === 'require' && scram?.mechanism !== SCRAM_SHA_256_PLUS) {
              throw new AuthError(
                'WALDUCK_CHANNEL_BINDING_REQUIRED',
                'channel_binding=require but the server authenticated us without SCRAM-SHA-256-PLUS channel binding: refusing',
              );
            }
            authenticated = true;
            wire.phase = 'startup';
            break;
          case 'AuthenticationCleartextPassword':
            allow(s, 'password');
            if (s.channelBinding === 'require') throw channelBindingRequired('password');
            wire.send({ type: 'PasswordMessage', password: needPassword(s, 'password') });
            break;
          case 'AuthenticationMD5Password':
            allow(s, 'md5');
            if (s.channelBinding === 'require') throw channelBindingRequired('md5');
            wire.send({
              type: 'PasswordMessage',
              password: md5PasswordResponse(s.user, needPassword(s, 'md5'), m.salt),
            });
            break;
          case 'AuthenticationSASL': {
            allow(s, 'scram-sha-256');
            if (scram)
              throw new ProtocolError('WALDUCK_UNEXPECTED_MESSAGE', 'auth', 'a second AuthenticationSASL');
            const password = needPassword(s, 'SCRAM-SHA-256');
            const cb = chooseChannelBinding(s, m.mechanisms, o.peerCertificate);
            scram = new ScramClient({
              password,
              channelBinding: cb,
              ...(s.scramMaxIterations ? { maxIterations: s.scramMaxIterations } : {}),
            });
            wire.send({
              type: 'SASLInitialResponse',
              mechanism: scram.mechanism,
              data: Buffer.from(scram.clientFirstMessage(), 'utf8'),
            });
            break;
          }
          case 'AuthenticationSASLContinue':
            if (!scram)
              throw new ProtocolError('WALDUCK_UNEXPECTED_MESSAGE', 'auth', 'SASLContinue without SASL');
            wire.send({
              type: 'SASLResponse',
              data: Buffer.from(scram.clientFinalMessage(m.data.toString('utf8')), 'utf8'),
            });
            break;
          case 'AuthenticationSASLFinal':
            if (!scram)
              throw new ProtocolError('WALDUCK_UNEXPECTED_MESSAGE', 'auth', 'SASLFinal without SASL');
            scram.verifyServerFinal(m.data.toString('utf8'));
            break;
          case 'AuthenticationUnsupported':
            throw new AuthError(
              'WALDUCK_AUTH_METHOD_UNSUPPORTED',
              `the server asks for an authentication method this client does not support (code ${m.code}: Kerberos/GSSAPI/SSPI): configure password, md5 or scram-sha-256 for this user in pg_hba.conf`,
            );
          default:
            return m satisfies never;
        }
        break;
      }
      case BACKEND_KEY_DATA: {
        const k = decodeBackendKeyData(body);
        key = { pid: k.pid, secretKey: k.secretKey };
        break;
      }
      case NEGOTIATE_PROTOCOL_VERSION: {
        const n = decodeNegotiateProtocolVersion(body);
        // We ask for 3.0 with no protocol options: nothing to downgrade; note it and go on.
        if (n.unrecognized.length > 0)
          throw new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'startup',
            `server did not recognise: ${n.unrecognized.join(', ')}`,
          );
        break;
      }
      case ERROR_RESPONSE:
        throw new PgServerError(wire.phase, decodeErrorResponse(body).fields, {
          user: s.user,
          passwordSource: s.passwordSource,
          serverVersion: wire.parameters.get('server_version'),
        });
      case READY_FOR_QUERY:
        if (!authenticated)
          throw new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'auth',
            'ReadyForQuery before AuthenticationOk',
          );
        return key;
      default:
        throw new ProtocolError(
          'WALDUCK_UNEXPECTED_MESSAGE',
          wire.phase,
          `unexpected message '${String.fromCharCode(tag)}' during startup`,
        );
    }
  }
}

function channelBindingRequired(method: string): AuthError {
  return new AuthError(
    'WALDUCK_CHANNEL_BINDING_REQUIRED',
    `channel_binding=require but the server asks for ${method} authentication, which cannot bind to the TLS channel: refusing`,
  );
}

function chooseChannelBinding(
  s: ConnectionSettings,
  offered: readonly string[],
  cert: Buffer | undefined,
): ChannelBinding {
  const plus = offered.includes(SCRAM_SHA_256_PLUS);
  if (!plus && !offered.includes(SCRAM_SHA_256)) {
    throw new AuthError(
      'WALDUCK_AUTH_METHOD_UNSUPPORTED',
      `the server offers SASL mechanisms ${offered.join(', ')}; this client speaks SCRAM-SHA-256(-PLUS) only`,
    );
  }
  if (cert && plus && s.channelBinding !== 'disable') {
    try {
      return { kind: 'tls-server-end-point', data: tlsServerEndPoint(cert) };
    } catch (err) {
      // A certificate whose signature has no defined hash (e.g. Ed25519) cannot be bound to. With
      // "prefer" we say "n" (we do not support binding here), which the server accepts.
      if (s.channelBinding === 'require') throw err;
      return { kind: 'none' };
    }
  }
  if (s.channelBinding === 'require') {
    throw new AuthError(
      'WALDUCK_CHANNEL_BINDING_REQUIRED',
      cert
        ? 'channel_binding=require but the server does not offer SCRAM-SHA-256-PLUS'
        : 'channel_binding=require needs TLS: set sslmode=require or stronger',
    );
  }
  // "y": we could bind but the server did not offer PLUS. If a middleman stripped PLUS from the offer,
  // the real server sees "y" while it supports binding, and refuses.
  return cert && s.channelBinding !== 'disable' ? { kind: 'client-supports' } : { kind: 'none' };
}
