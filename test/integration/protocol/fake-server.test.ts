// Server behaviour the real PostgreSQL never shows, from a scripted fake: each must be refused with
// the right typed error, never a hang and never a connection that looks fine.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import {
  AuthError,
  type Connection,
  ConnectionError,
  connect,
  PgServerError,
  ProtocolError,
  parseConnectionString,
} from '../../../src/protocol/index.js';
import { encodeCopyData } from '../../../src/protocol/messages/copy-data.js';
import { decodeSASLInitialResponse } from '../../../src/protocol/messages/frontend/sasl-initial-response.js';
import { isSSLRequest } from '../../../src/protocol/messages/frontend/ssl-request.js';
import { decodeStartupMessage } from '../../../src/protocol/messages/frontend/startup-message.js';
import type { StandbyStatusUpdate } from '../../../src/protocol/replication/standby-status-update.js';
import { decodeStandbyStatusUpdate } from '../../../src/protocol/replication/standby-status-update.js';
import { encodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import { fixturesDir } from '../../helpers/paths.js';
import { type FakeServer, fakeServer, type Peer, R, textField, trustServer } from './fake-server.js';

const servers: FakeServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(script: (peer: Peer) => Promise<void>): Promise<FakeServer> {
  const s = await fakeServer(script);
  servers.push(s);
  return s;
}

function settings(port: number, extra = '') {
  return parseConnectionString(
    `host=127.0.0.1 port=${port} user=alice dbname=db password=secret sslmode=disable ${extra}`,
    {},
  );
}

const fixture = (name: string): Buffer => readFileSync(`${fixturesDir}protocol/${name}`);

/** Startup, then the SCRAM exchange up to the client-final-message; `final` decides what comes next. */
function scramServer(opts: {
  nonceSuffix?: string;
  keepNonce?: boolean;
  iterations?: number;
  final: (peer: Peer) => void;
}) {
  return async (peer: Peer): Promise<void> => {
    decodeStartupMessage(await peer.readUntagged());
    peer.send(R({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] }));
    const first = decodeSASLInitialResponse((await peer.read()).body);
    const clientNonce = /r=([^,]+)/.exec(first.data?.toString() ?? '')?.[1] ?? '';
    const nonce =
      opts.keepNonce === false
        ? `x${randomBytes(8).toString('hex')}`
        : clientNonce + (opts.nonceSuffix ?? 'srvNonce123');
    const serverFirst = `r=${nonce},s=${randomBytes(16).toString('base64')},i=${opts.iterations ?? 4096}`;
    peer.send(R({ type: 'AuthenticationSASLContinue', data: Buffer.from(serverFirst) }));
    await peer.read(); // client-final
    opts.final(peer);
  };
}

describe('against a forged or broken server', () => {
  it('refuses a forged SCRAM server signature', async () => {
    const s = await serve(
      scramServer({
        final: (peer) =>
          peer.send(
            R({
              type: 'AuthenticationSASLFinal',
              data: Buffer.from(`v=${randomBytes(32).toString('base64')}`),
            }),
            R({ type: 'AuthenticationOk' }),
          ),
      }),
    );
    await assert.rejects(
      connect(settings(s.port)),
      (e: unknown) =>
        e instanceof AuthError && e.code === 'WALDUCK_SCRAM_BAD_SERVER_SIGNATURE' && e.phase === 'auth',
    );
  });

  it('refuses AuthenticationOk without a verified SASLFinal', async () => {
    const s = await serve(scramServer({ final: (peer) => peer.send(R({ type: 'AuthenticationOk' })) }));
    await assert.rejects(
      connect(settings(s.port)),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_SCRAM_INCOMPLETE',
    );
  });

  it('refuses a server nonce that does not extend ours', async () => {
    const s = await serve(scramServer({ keepNonce: false, final: () => {} }));
    await assert.rejects(
      connect(settings(s.port)),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_SCRAM_BAD_NONCE',
    );
  });

  it('refuses an absurd SCRAM iteration count before spending the CPU', async () => {
    const s = await serve(scramServer({ iterations: 2_000_000_000, final: () => {} }));
    await assert.rejects(
      connect(settings(s.port)),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_SCRAM_ITERATIONS',
    );
  });

  it('reports a truncated frame when the server closes mid-message', async () => {
    const s = await serve(async (peer) => {
      decodeStartupMessage(await peer.readUntagged());
      const ok = R({ type: 'AuthenticationOk' });
      const param = R({ type: 'ParameterStatus', name: 'server_version', value: '15.0' });
      peer.send(ok, param.subarray(0, param.length - 3));
      peer.socket.end();
    });
    await assert.rejects(
      connect(settings(s.port)),
      (e: unknown) =>
        e instanceof ProtocolError && e.code === 'WALDUCK_TRUNCATED_FRAME' && e.phase === 'startup',
    );
  });

  it('refuses a frame length below 4', async () => {
    const s = await serve(async (peer) => {
      decodeStartupMessage(await peer.readUntagged());
      peer.send(Buffer.from([0x52, 0, 0, 0, 3]));
    });
    await assert.rejects(
      connect(settings(s.port)),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_SHORT',
    );
  });

  it('refuses a 1 GiB claim before authentication without allocating it', async () => {
    const s = await serve(async (peer) => {
      decodeStartupMessage(await peer.readUntagged());
      // An ErrorResponse header claiming MaxAllocSize, as an impostor could send to anyone who connects.
      peer.send(Buffer.from([0x45, 0x3f, 0xff, 0xff, 0xff]));
    });
    await assert.rejects(
      connect(settings(s.port), { connectTimeoutMs: 20_000 }),
      (e: unknown) =>
        e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_LARGE' && /30000/.test(e.message),
    );
  });

  it('refuses an oversized authentication request', async () => {
    const s = await serve(async (peer) => {
      decodeStartupMessage(await peer.readUntagged());
      const sasl = R({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256', 'x'.repeat(3000)] });
      peer.send(sasl);
    });
    await assert.rejects(
      connect(settings(s.port), { connectTimeoutMs: 20_000 }),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_FRAME_TOO_LARGE',
    );
  });

  it('bounds the ParameterStatus map', async () => {
    const s = await serve(async (peer) => {
      decodeStartupMessage(await peer.readUntagged());
      peer.send(R({ type: 'AuthenticationOk' }));
      for (let i = 0; i < 300; i++) peer.send(R({ type: 'ParameterStatus', name: `p${i}`, value: 'v' }));
      peer.send(
        R({ type: 'BackendKeyData', pid: 1, secretKey: 1 }),
        R({ type: 'ReadyForQuery', status: 'I' }),
      );
    });
    const c = connect(settings(s.port), { connectTimeoutMs: 20_000 });
    c.then(
      (conn) => conn.close(),
      () => {},
    );
    await assert.rejects(
      c,
      (e: unknown) =>
        e instanceof ProtocolError && e.code === 'WALDUCK_LIMIT_EXCEEDED' && /256/.test(e.message),
    );
  });

  it('bounds the rows one simple query may hold', async () => {
    const s = await serve(
      trustServer(async (peer) => {
        await peer.read();
        peer.send(R({ type: 'RowDescription', fields: [textField('x')] }));
        for (let i = 0; i < 50; i++) peer.send(R({ type: 'DataRow', values: [Buffer.from(String(i))] }));
        peer.send(
          R({ type: 'CommandComplete', tag: 'SELECT 50' }),
          R({ type: 'ReadyForQuery', status: 'I' }),
        );
      }),
    );
    const c = await connect(settings(s.port), { maxQueryRows: 10 });
    try {
      await assert.rejects(
        c.query('SELECT x FROM t'),
        (e: unknown) =>
          e instanceof ProtocolError && e.code === 'WALDUCK_LIMIT_EXCEEDED' && /10 rows/.test(e.message),
      );
    } finally {
      await c.close();
    }
  });

  it('refuses bytes sent along with the SSLRequest answer (injection before TLS)', async () => {
    const s = await serve(async (peer) => {
      await peer.readUntagged();
      peer.send(Buffer.concat([Buffer.from('S'), R({ type: 'AuthenticationOk' })]));
    });
    await assert.rejects(
      connect(settings(s.port, 'sslmode=require')),
      (e: unknown) =>
        e instanceof ProtocolError && e.code === 'WALDUCK_SSL_RESPONSE_INVALID' && e.phase === 'tls',
    );
  });

  it('fails with TLS_NOT_SUPPORTED when sslmode=require and the server says N', async () => {
    const s = await serve(async (peer) => {
      await peer.readUntagged();
      peer.send(Buffer.from('N'));
    });
    await assert.rejects(
      connect(settings(s.port, 'sslmode=require')),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_TLS_NOT_SUPPORTED',
    );
  });

  it('times out a connect that gets no answer', async () => {
    const s = await serve(async (peer) => {
      await peer.readUntagged(); // and never answer
    });
    await assert.rejects(
      connect(settings(s.port), { connectTimeoutMs: 200 }),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_CONNECT_TIMEOUT',
    );
  });

  it('abandons a connect when its signal aborts, and closes the socket', async () => {
    let closed!: () => void;
    const socketClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    let received!: () => void;
    const startupReceived = new Promise<void>((resolve) => {
      received = resolve;
    });
    const s = await serve(async (peer) => {
      peer.socket.once('close', closed);
      await peer.readUntagged(); // and never answer
      received();
    });
    const abandon = new AbortController();
    const attempt = connect(settings(s.port), { connectTimeoutMs: 60_000, signal: abandon.signal });
    attempt.catch(() => {});
    await startupReceived;
    abandon.abort();
    await assert.rejects(
      attempt,
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_CONNECT_ABANDONED',
    );
    await socketClosed;
  });

  /** Trust startup, then START_REPLICATION answered with CopyBothResponse; `then` scripts the stream. */
  async function streaming(then: (peer: Peer) => Promise<void>): Promise<Connection> {
    const s = await serve(
      trustServer(async (peer) => {
        await peer.read(); // START_REPLICATION
        peer.send(R({ type: 'CopyBothResponse', format: 0, columnFormats: [] }));
        await then(peer);
      }),
    );
    return connect(settings(s.port));
  }

  it('fails the iterator with RECEIVE_TIMEOUT after asking a silent server for a keepalive', async () => {
    const updates: StandbyStatusUpdate[] = [];
    const conn = await streaming(async (peer) => {
      peer.send(
        encodeCopyData({
          type: 'CopyData',
          data: encodeXLogData({
            type: 'XLogData',
            dataStart: 16n,
            walEnd: 16n,
            serverTime: 0n,
            data: Buffer.from('x'),
          }),
        }),
      );
      for (;;) {
        const f = await peer.read().catch(() => undefined);
        if (!f) return;
        if (f.tag === 0x64) updates.push(decodeStandbyStatusUpdate(f.body));
      }
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n, receiveTimeoutMs: 300 });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value?.type, 'XLogData');
    await assert.rejects(
      it.next(),
      (e: unknown) =>
        e instanceof ConnectionError && e.code === 'WALDUCK_RECEIVE_TIMEOUT' && e.phase === 'stream',
    );
    assert.ok(
      updates.some((u) => u.replyRequested),
      'asked the server for a keepalive before giving up',
    );
    assert.ok(
      updates.every((u) => u.flush === 0n),
      'nothing acknowledged, nothing reported flushed',
    );
    await conn.close();
  });

  it('fails the iterator with CONNECTION_LOST when the server vanishes mid-stream', async () => {
    const conn = await streaming(async (peer) => {
      peer.socket.destroy();
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n });
    await assert.rejects(
      (async () => {
        for await (const _ of stream) {
          // nothing arrives
        }
      })(),
      (e: unknown) =>
        e instanceof ConnectionError && e.code === 'WALDUCK_CONNECTION_LOST' && e.phase === 'stream',
    );
    await conn.close();
  });

  it('fails stop() with a typed error when the server never answers CopyDone', async () => {
    const conn = await streaming(async (peer) => {
      await peer.read().catch(() => undefined); // reads our CopyDone, answers nothing
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n, receiveTimeoutMs: 200 });
    await assert.rejects(
      stream.stop(),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_RECEIVE_TIMEOUT',
    );
    await conn.close();
  });

  it('falls back to plaintext with sslmode=prefer when the TLS handshake fails', async () => {
    let attempts = 0;
    const s = await serve(async (peer) => {
      attempts++;
      if (attempts === 1) {
        await peer.readUntagged(); // SSLRequest
        peer.send(Buffer.from('S'));
        await new Promise((r) => peer.socket.once('data', r)); // the ClientHello
        peer.send(Buffer.from('this is not a TLS server hello'));
        return;
      }
      await trustServer(async () => {})(peer);
    });
    const conn = await connect(settings(s.port, 'sslmode=prefer'));
    assert.equal(conn.backendPid, 4242);
    assert.equal(attempts, 2);
    await conn.close();
  });

  it('sslmode=allow retries with TLS when the server refuses the plaintext session', async () => {
    const [cert, key] = [fixture('fake-server.crt'), fixture('fake-server.key')];
    const seen: string[] = [];
    const s = await serve(async (peer) => {
      const first = await peer.readUntagged();
      if (!isSSLRequest(first)) {
        seen.push('plain');
        peer.send(
          R({
            type: 'ErrorResponse',
            fields: {
              severity: 'FATAL',
              sqlstate: '28000',
              message:
                'no pg_hba.conf entry for host "127.0.0.1", user "alice", database "db", no encryption',
            },
          }),
        );
        peer.socket.end();
        return;
      }
      seen.push('tls');
      peer.startTls(cert, key);
      await trustServer(async () => {})(peer);
    });
    const conn = await connect(settings(s.port, 'sslmode=allow'));
    assert.deepEqual(seen, ['plain', 'tls']);
    assert.equal(conn.backendPid, 4242);
    await conn.close();
    // verify-full against this server's own certificate as the root, by its name.
    const full = await connect(
      parseConnectionString(
        `host=localhost port=${s.port} user=alice dbname=db sslmode=verify-full sslrootcert=${fixturesDir}protocol/fake-server.crt`,
        {},
      ),
    );
    await full.close();
  });

  it('fails, as libpq does, when channel_binding=prefer meets a certificate with no binding hash (Ed25519)', async () => {
    const [cert, key] = [fixture('fake-server-ed25519.crt'), fixture('fake-server-ed25519.key')];
    let mechanism: string | undefined;
    const s = await serve(async (peer) => {
      await peer.readUntagged();
      peer.startTls(cert, key);
      decodeStartupMessage(await peer.readUntagged());
      peer.send(R({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }));
      mechanism = decodeSASLInitialResponse(
        (await peer.read().catch(() => ({ body: Buffer.alloc(0) }))).body,
      ).mechanism;
      peer.socket.end();
    });
    await assert.rejects(
      connect(settings(s.port, 'sslmode=require channel_binding=prefer'), { connectTimeoutMs: 20_000 }),
      (e: unknown) =>
        e instanceof AuthError &&
        e.code === 'WALDUCK_CHANNEL_BINDING_UNAVAILABLE' &&
        /channel_binding=disable/.test(e.message),
    );
    assert.equal(mechanism, undefined, 'an unbound SCRAM exchange was started');
  });

  it('says "y" (client supports binding) when TLS is on but the server offers no SCRAM-SHA-256-PLUS', async () => {
    const [cert, key] = [fixture('fake-server.crt'), fixture('fake-server.key')];
    let gs2 = '';
    const s = await serve(async (peer) => {
      await peer.readUntagged();
      peer.startTls(cert, key);
      decodeStartupMessage(await peer.readUntagged());
      peer.send(R({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] }));
      gs2 =
        decodeSASLInitialResponse((await peer.read()).body)
          .data?.toString()
          .slice(0, 3) ?? '';
      peer.socket.end();
    });
    await assert.rejects(connect(settings(s.port, 'sslmode=require')));
    assert.equal(gs2, 'y,,');
    await assert.rejects(
      connect(settings(s.port, 'sslmode=require channel_binding=require')),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_CHANNEL_BINDING_REQUIRED',
    );
  });

  it('keeps going when a trace or notice hook throws', async () => {
    const s = await serve(
      trustServer(async (peer) => {
        await peer.read();
        peer.send(
          R({
            type: 'NoticeResponse',
            fields: { severity: 'WARNING', sqlstate: '01000', message: 'careful' },
          }),
          R({ type: 'CommandComplete', tag: 'SELECT 0' }),
          R({ type: 'ReadyForQuery', status: 'I' }),
        );
      }),
    );
    const conn = await connect(settings(s.port), {
      onNotice: () => {
        throw new Error('hook bug');
      },
    });
    assert.deepEqual(await conn.query('SELECT'), [{ command: 'SELECT 0', fields: [], rows: [] }]);
    await conn.close();
  });

  it('ends the iterator cleanly when the server ends the copy, and the session stays usable', async () => {
    const conn = await streaming(async (peer) => {
      peer.send(
        encodeCopyData({
          type: 'CopyData',
          data: encodeXLogData({
            type: 'XLogData',
            dataStart: 1n,
            walEnd: 2n,
            serverTime: 0n,
            data: Buffer.from('a'),
          }),
        }),
        R({ type: 'CopyDone' }),
      );
      for (let f = await peer.read(); f.tag !== 0x63; f = await peer.read()) {} // up to our CopyDone
      peer.send(
        R({ type: 'CommandComplete', tag: 'START_REPLICATION' }),
        R({ type: 'ReadyForQuery', status: 'I' }),
      );
      await peer.read(); // the next query
      peer.send(R({ type: 'CommandComplete', tag: 'SELECT 0' }), R({ type: 'ReadyForQuery', status: 'I' }));
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n });
    const seen: string[] = [];
    for await (const m of stream) seen.push(m.type);
    assert.deepEqual(seen, ['XLogData']);
    assert.equal(stream.lastReceived, 2n);
    assert.deepEqual(await conn.query('SELECT'), [{ command: 'SELECT 0', fields: [], rows: [] }]);
    await conn.close();
  });

  it('turns an ErrorResponse mid-stream into PgServerError and keeps the session', async () => {
    const conn = await streaming(async (peer) => {
      peer.send(
        R({
          type: 'ErrorResponse',
          fields: {
            severity: 'ERROR',
            sqlstate: '58P01',
            message: 'could not access file "wal2json": No such file or directory',
          },
        }),
        R({ type: 'ReadyForQuery', status: 'I' }),
      );
      await peer.read();
      peer.send(R({ type: 'CommandComplete', tag: 'SELECT 0' }), R({ type: 'ReadyForQuery', status: 'I' }));
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n });
    await assert.rejects(
      stream[Symbol.asyncIterator]().next(),
      (e: unknown) =>
        e instanceof PgServerError &&
        e.phase === 'stream' &&
        /apt-get install postgresql-15-wal2json/.test(e.message),
    );
    assert.deepEqual(await conn.query('SELECT'), [{ command: 'SELECT 0', fields: [], rows: [] }]);
    await conn.close();
  });

  it('reports WALDUCK_STREAM_ENDED when the server leaves copy mode without CopyDone', async () => {
    const conn = await streaming(async (peer) => {
      peer.send(
        R({ type: 'CommandComplete', tag: 'START_REPLICATION' }),
        R({ type: 'ReadyForQuery', status: 'I' }),
      );
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n });
    await assert.rejects(
      stream[Symbol.asyncIterator]().next(),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_STREAM_ENDED',
    );
    await conn.close();
  });

  it('rejects an unknown replication message inside CopyData', async () => {
    const conn = await streaming(async (peer) => {
      peer.send(encodeCopyData({ type: 'CopyData', data: Buffer.from('zzz') }));
    });
    const stream = await conn.startReplication({ slot: 's', startLsn: 0n });
    await assert.rejects(
      stream[Symbol.asyncIterator]().next(),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_UNKNOWN_MESSAGE',
    );
    await conn.close();
  });
});
