// A scripted stand-in for a PostgreSQL server, for the behaviour the real one never shows: forged
// SCRAM signatures, AuthenticationOk too early, truncated frames, silence. It speaks just enough
// protocol (using our own message encoders) to reach the point under test.
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { encodeBackendMessage } from '../../../src/protocol/messages/backend/index.js';
import { decodeStartupMessage } from '../../../src/protocol/messages/frontend/startup-message.js';

export interface Frame {
  readonly tag: number;
  readonly body: Buffer;
}

export class Peer {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended = false;

  private readonly onData = (chunk: Buffer): void => {
    this.buf = Buffer.concat([this.buf, chunk]);
    this.waiting?.();
  };

  constructor(public socket: Socket) {
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.ended = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  private async need(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error('client went away');
      await new Promise<void>((r) => {
        this.waiting = r;
      });
      this.waiting = undefined;
    }
  }

  /** An untagged packet (StartupMessage, SSLRequest): returns its body. */
  async readUntagged(): Promise<Buffer> {
    await this.need(4);
    const len = this.buf.readInt32BE(0);
    await this.need(len);
    const body = this.buf.subarray(4, len);
    this.buf = this.buf.subarray(len);
    return body;
  }

  async read(): Promise<Frame> {
    await this.need(5);
    const len = this.buf.readInt32BE(1);
    await this.need(1 + len);
    const f = { tag: this.buf[0] as number, body: this.buf.subarray(5, 1 + len) };
    this.buf = this.buf.subarray(1 + len);
    return f;
  }

  /** Answers 'S' to an SSLRequest already read and continues as the TLS server. */
  startTls(cert: Buffer, key: Buffer): void {
    this.socket.off('data', this.onData);
    this.socket.write(Buffer.from('S'));
    const tls = new TLSSocket(this.socket, { isServer: true, cert, key });
    tls.on('data', this.onData);
    tls.on('error', () => {});
    this.socket = tls;
  }

  send(...bytes: Buffer[]): void {
    for (const b of bytes) this.socket.write(b);
  }
}

export interface FakeServer {
  readonly port: number;
  /** Resolves with the script's outcome (or rejects with its error). */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export async function fakeServer(script: (peer: Peer) => Promise<void>): Promise<FakeServer> {
  let resolveDone: () => void = () => {};
  let rejectDone: (e: unknown) => void = () => {};
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => {});
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    script(new Peer(socket)).then(resolveDone, rejectDone);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    done,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A backend message's bytes. */
export const R = (m: Parameters<typeof encodeBackendMessage>[0]): Buffer => encodeBackendMessage(m);

/** A text column of a RowDescription. */
export const textField = (name: string) => ({
  name,
  tableOid: 0,
  columnNumber: 0,
  typeOid: 25,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
});

/** A script that accepts any startup without a password (trust), then runs `after`. */
export function trustServer(after: (peer: Peer) => Promise<void>) {
  return async (peer: Peer): Promise<void> => {
    decodeStartupMessage(await peer.readUntagged());
    peer.send(
      R({ type: 'AuthenticationOk' }),
      R({ type: 'ParameterStatus', name: 'server_version', value: '15.0' }),
      R({ type: 'BackendKeyData', pid: 4242, secretKey: 7 }),
      R({ type: 'ReadyForQuery', status: 'I' }),
    );
    await after(peer);
  };
}
