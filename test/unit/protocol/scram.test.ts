// SCRAM-SHA-256 against RFC 7677's test vector, the strict grammar for server messages, md5, and
// tls-server-end-point hashes computed independently (by Python's hashlib, see the fixture).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signatureAlgorithmOid, tlsServerEndPoint } from '../../../src/protocol/auth/channel-binding.js';
import { md5PasswordResponse } from '../../../src/protocol/auth/md5.js';
import { ScramClient } from '../../../src/protocol/auth/scram-sha-256.js';
import { AuthError } from '../../../src/protocol/errors.js';
import { fixture } from './support.js';

// RFC 7677 section 3: user "user", password "pencil".
const RFC = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const rfcClient = () =>
  new ScramClient({
    password: 'pencil',
    username: 'user',
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    channelBinding: { kind: 'none' },
  });

const code = (c: string) => (e: unknown) => e instanceof AuthError && e.code === c;

describe('SCRAM-SHA-256', () => {
  it('reproduces the RFC 7677 exchange and verifies its server signature', () => {
    const s = rfcClient();
    assert.equal(s.clientFirstMessage(), RFC.clientFirst);
    assert.equal(s.clientFinalMessage(RFC.serverFirst), RFC.clientFinal);
    assert.equal(s.verified, false);
    s.verifyServerFinal(RFC.serverFinal);
    assert.equal(s.verified, true);
  });

  it('refuses a server signature that differs in one bit', () => {
    const s = rfcClient();
    s.clientFirstMessage();
    s.clientFinalMessage(RFC.serverFirst);
    const sig = Buffer.from(RFC.serverFinal.slice(2), 'base64');
    sig[5] = (sig[5] as number) ^ 1;
    assert.throws(
      () => s.verifyServerFinal(`v=${sig.toString('base64')}`),
      code('WALDUCK_SCRAM_BAD_SERVER_SIGNATURE'),
    );
    assert.equal(s.verified, false);
  });

  it('checks the nonce, salt, iterations and message order strictly', () => {
    const at = (serverFirst: string, c: string, max?: number) => {
      const s = new ScramClient({
        password: 'p',
        clientNonce: 'abc',
        channelBinding: { kind: 'none' },
        ...(max ? { maxIterations: max } : {}),
      });
      s.clientFirstMessage();
      assert.throws(() => s.clientFinalMessage(serverFirst), code(c), serverFirst);
    };
    at('r=xyzabc,s=c2FsdA==,i=4096', 'WALDUCK_SCRAM_BAD_NONCE');
    at('r=abc,s=c2FsdA==,i=4096', 'WALDUCK_SCRAM_BAD_NONCE'); // the server must add its own part
    at('r=abcd,s=!!!,i=4096', 'WALDUCK_SCRAM_BAD_MESSAGE');
    at('r=abcd,s=c2FsdA==,i=0', 'WALDUCK_SCRAM_BAD_MESSAGE');
    at('r=abcd,s=c2FsdA==,i=-1', 'WALDUCK_SCRAM_BAD_MESSAGE');
    at('r=abcd,s=c2FsdA==,i=4097', 'WALDUCK_SCRAM_ITERATIONS', 4096);
    at('s=c2FsdA==,r=abcd,i=4096', 'WALDUCK_SCRAM_BAD_MESSAGE');
    at('m=ext,r=abcd,s=c2FsdA==,i=4096', 'WALDUCK_SCRAM_BAD_MESSAGE');
    at('r=abcd,s=c2FsdA==', 'WALDUCK_SCRAM_BAD_MESSAGE');
  });

  it('reports the server error of e= and refuses messages out of order', () => {
    const s = rfcClient();
    assert.throws(() => s.clientFinalMessage(RFC.serverFirst), code('WALDUCK_SCRAM_BAD_MESSAGE'));
    s.clientFirstMessage();
    assert.throws(() => s.verifyServerFinal(RFC.serverFinal), code('WALDUCK_SCRAM_BAD_MESSAGE'));
    s.clientFinalMessage(RFC.serverFirst);
    assert.throws(
      () => s.verifyServerFinal('e=invalid-proof'),
      (e: unknown) => e instanceof AuthError && /invalid-proof/.test(e.message),
    );
  });

  it('puts the channel-binding flag and data into the gs2 header and c=', () => {
    const cb = Buffer.from([1, 2, 3]);
    const s = new ScramClient({
      password: 'p',
      clientNonce: 'abc',
      channelBinding: { kind: 'tls-server-end-point', data: cb },
    });
    assert.equal(s.mechanism, 'SCRAM-SHA-256-PLUS');
    assert.equal(s.clientFirstMessage(), 'p=tls-server-end-point,,n=,r=abc');
    const final = s.clientFinalMessage('r=abcdef,s=c2FsdA==,i=1');
    const c = /^c=([^,]+),/.exec(final)?.[1] ?? '';
    assert.deepEqual(Buffer.from(c, 'base64'), Buffer.concat([Buffer.from('p=tls-server-end-point,,'), cb]));
    const y = new ScramClient({
      password: 'p',
      clientNonce: 'abc',
      channelBinding: { kind: 'client-supports' },
    });
    assert.equal(y.mechanism, 'SCRAM-SHA-256');
    assert.equal(y.clientFirstMessage(), 'y,,n=,r=abc');
    assert.match(y.clientFinalMessage('r=abcdef,s=c2FsdA==,i=1'), /^c=eSws,/); // base64("y,,")
  });
});

describe('tls-server-end-point', () => {
  const expected = JSON.parse(fixture('tls-server-end-point.json').toString()) as Record<string, string>;
  for (const [file, hex] of Object.entries(expected)) {
    it(`hashes ${file} with its signature's hash (SHA-1 -> SHA-256)`, () => {
      assert.equal(tlsServerEndPoint(fixture(file)).toString('hex'), hex);
    });
  }

  it('reads the signature algorithm OID and refuses garbage', () => {
    assert.equal(signatureAlgorithmOid(fixture('rsa-sha256.der')), '1.2.840.113549.1.1.11');
    assert.equal(signatureAlgorithmOid(fixture('ecdsa-sha384.der')), '1.2.840.10045.4.3.3');
    assert.throws(
      () => tlsServerEndPoint(Buffer.from([0x30, 0x82, 0xff])),
      code('WALDUCK_CHANNEL_BINDING_UNAVAILABLE'),
    );
  });
});

describe('md5', () => {
  it('answers "md5" + md5(md5(password + user) + salt) in hex', () => {
    // Computed independently with Python's hashlib: md5("pwuser") = 871c4297...; then md5(hex + salt).
    assert.equal(
      md5PasswordResponse('user', 'pw', Buffer.from([1, 2, 3, 4])),
      'md546eacb7412409e1444bde22e56e70744',
    );
  });
});
