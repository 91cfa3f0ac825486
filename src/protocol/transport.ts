// Opening the byte stream: a TCP or unix socket, and TLS through SSLRequest as libpq's sslmode says.
//
// sslmode  | asks TLS | without TLS        | verifies chain          | verifies host name
// disable  | no       | -                  | -                       | -
// allow    | on retry | first try          | no                      | no
// prefer   | yes      | if refused/failed  | no                      | no
// require  | yes      | error              | only if sslrootcert set | no
// verify-ca| yes      | error              | yes                     | no
// verify-full| yes    | error              | yes                     | yes
// Unix sockets never use TLS (as libpq): the kernel already authenticates the peer by file permissions.

import { existsSync, readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type ConnectionSettings, describeSettings, isUnixSocketHost } from './config.js';
import { ConfigError, ConnectionError, ProtocolError } from './errors.js';
import { encodeSSLRequest, SSL_ACCEPTED, SSL_REFUSED } from './messages/frontend/ssl-request.js';
import type { TraceFn } from './trace.js';
import type { LogFn } from './wire.js';

export interface Transport {
  readonly socket: Socket;
  /** DER of the server certificate when TLS is on (for SCRAM channel binding). */
  readonly peerCertificate: Buffer | undefined;
}

export function openSocket(settings: ConnectionSettings, log: LogFn | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const unix = isUnixSocketHost(settings.host);
    const socket = unix
      ? netConnect({ path: join(settings.host, `.s.PGSQL.${settings.port}`) })
      : netConnect({ host: settings.hostaddr ?? settings.host, port: settings.port });
    log?.(`connecting to ${describeSettings(settings)}`);
    const onError = (err: Error): void => {
      socket.destroy();
      const hint = unix
        ? 'is the server running locally and accepting connections on that socket (unix_socket_directories)?'
        : 'is the server running on that host and port, and accepting TCP/IP connections (listen_addresses)?';
      reject(
        new ConnectionError(
          'WALDUCK_CONNECT_FAILED',
          'connect',
          `cannot connect to ${describeSettings(settings)}: ${err.message}; ${hint}`,
          { cause: err },
        ),
      );
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Reads exactly the one-byte answer to SSLRequest; more bytes would be injected plaintext (CVE-2021-23222). */
function readSslAnswer(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onErr);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      socket.pause();
      if (chunk.length !== 1) {
        reject(
          new ProtocolError(
            'WALDUCK_SSL_RESPONSE_INVALID',
            'tls',
            chunk[0] === 0x45
              ? 'the server answered SSLRequest with an error: it does not speak this protocol version'
              : 'the server sent more than one byte in answer to SSLRequest: refusing (possible injection before the TLS handshake)',
          ),
        );
        return;
      }
      resolve(chunk[0] as number);
    };
    const onErr = (err: Error): void => {
      cleanup();
      reject(
        new ConnectionError(
          'WALDUCK_TLS_FAILED',
          'tls',
          `connection failed during SSLRequest: ${err.message}`,
          {
            cause: err,
          },
        ),
      );
    };
    const onClose = (): void => {
      cleanup();
      reject(
        new ConnectionError(
          'WALDUCK_CONNECTION_LOST',
          'tls',
          'the server closed the connection in answer to SSLRequest',
        ),
      );
    };
    socket.on('data', onData);
    socket.once('error', onErr);
    socket.once('close', onClose);
  });
}

function readFileFor(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('WALDUCK_BAD_SETTING', `${key}: cannot read "${path}": ${(err as Error).message}`);
  }
}

/** libpq's default locations for the root certificate, client certificate and key. */
function defaultFile(name: string): string | undefined {
  const p = join(process.env.HOME ?? homedir(), '.postgresql', name);
  return existsSync(p) ? p : undefined;
}

/**
 * Sends SSLRequest and upgrades to TLS. `required`: a refusal is an error; otherwise it yields the
 * plain socket. Returns the socket to speak the protocol on.
 */
export async function startTls(
  socket: Socket,
  settings: ConnectionSettings,
  required: boolean,
  log: LogFn | undefined,
  trace: TraceFn | undefined,
): Promise<Transport> {
  const request = encodeSSLRequest();
  trace?.({ direction: 'send', name: 'SSLRequest', length: 8, fields: {}, bytes: request.subarray(4) });
  socket.write(request);
  const answer = await readSslAnswer(socket);
  trace?.({
    direction: 'recv',
    name: 'SSLResponse',
    length: 1,
    fields: { answer: String.fromCharCode(answer) },
  });
  if (answer === SSL_REFUSED) {
    if (required) {
      socket.destroy();
      throw new ConnectionError(
        'WALDUCK_TLS_NOT_SUPPORTED',
        'tls',
        `the server does not support TLS but sslmode=${settings.sslmode} requires it: enable ssl on the server, or lower sslmode`,
      );
    }
    log?.(`server refused TLS; continuing without it (sslmode=${settings.sslmode})`);
    return { socket, peerCertificate: undefined };
  }
  if (answer !== SSL_ACCEPTED) {
    socket.destroy();
    throw new ProtocolError(
      'WALDUCK_SSL_RESPONSE_INVALID',
      'tls',
      `unexpected answer 0x${answer.toString(16)} to SSLRequest: not a PostgreSQL server?`,
    );
  }

  const mode = settings.sslmode;
  const rootCertFile =
    settings.sslrootcert === 'system'
      ? undefined
      : (settings.sslrootcert ?? (mode.startsWith('verify') ? defaultFile('root.crt') : undefined));
  const verifyChain =
    mode === 'verify-ca' ||
    mode === 'verify-full' ||
    (mode === 'require' && settings.sslrootcert !== undefined);
  if (verifyChain && rootCertFile === undefined && settings.sslrootcert !== 'system') {
    socket.destroy();
    throw new ConfigError(
      'WALDUCK_BAD_SETTING',
      `sslmode=${mode} needs the CA certificate that signed the server's: set sslrootcert=/path/to/ca.crt (or sslrootcert=system for the system's CAs)`,
    );
  }
  const host = settings.host;
  const certFile = settings.sslcert ?? defaultFile('postgresql.crt');
  const keyFile = settings.sslkey ?? (certFile ? defaultFile('postgresql.key') : undefined);
  let files: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  try {
    files = {
      ...(rootCertFile ? { ca: readFileFor('sslrootcert', rootCertFile) } : {}),
      ...(certFile ? { cert: readFileFor('sslcert', certFile) } : {}),
      ...(keyFile ? { key: readFileFor('sslkey', keyFile) } : {}),
    };
  } catch (err) {
    socket.destroy();
    throw err;
  }
  const tlsSocket: TLSSocket = await new Promise((resolve, reject) => {
    const s = tlsConnect({
      socket,
      ...files,
      rejectUnauthorized: verifyChain,
      // SNI only for names, never for IP addresses (RFC 6066).
      ...(settings.sslsni && isIP(host) === 0 ? { servername: host } : {}),
      checkServerIdentity:
        mode === 'verify-full'
          ? (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert)
          : () => undefined,
    });
    const onError = (err: Error): void => {
      s.destroy();
      const what =
        mode === 'verify-full' && /Hostname|altnames|IP: /i.test(err.message)
          ? `the server certificate does not match host name "${host}" (sslmode=verify-full): connect with the name the certificate was issued for`
          : `TLS handshake failed: ${err.message}`;
      reject(new ConnectionError('WALDUCK_TLS_FAILED', 'tls', what, { cause: err }));
    };
    s.once('error', onError);
    s.once('secureConnect', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
  const peer = tlsSocket.getPeerCertificate();
  log?.(
    `TLS ${tlsSocket.getProtocol() ?? ''} established (${verifyChain ? 'certificate verified' : 'certificate not verified'})`,
  );
  return { socket: tlsSocket, peerCertificate: peer?.raw };
}
