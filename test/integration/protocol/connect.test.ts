// Connecting for real: every auth method of the throwaway cluster over TCP and the unix socket, wrong
// passwords, TLS modes (a wrong host name must fail verify-full), channel binding and require_auth.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuthMethod, conninfo, psql } from '../../../src/cluster/throwaway.js';
import {
  ArgumentError,
  AuthError,
  ConfigError,
  ConnectionError,
  connect,
  type NoticeFields,
  PgServerError,
  parseConnectionString,
  type TraceEvent,
} from '../../../src/protocol/index.js';
import { useCluster } from '../../helpers/cluster.js';

const METHODS = ['trust', 'password', 'md5', 'scram-sha-256'] as const satisfies readonly AuthMethod[];

describe('connect', () => {
  const c = useCluster();
  const settings = (method: AuthMethod | 'superuser', extra: Record<string, string> = {}) =>
    parseConnectionString(conninfo(c.info, method, extra), {});

  for (const method of METHODS) {
    for (const where of ['tcp', 'socket'] as const) {
      it(`authenticates ${method} over ${where} and runs IDENTIFY_SYSTEM`, async () => {
        const extra = where === 'socket' ? { host: c.info.socketDir } : {};
        const conn = await connect(settings(method, extra));
        try {
          const id = await conn.identifySystem();
          assert.equal(id.dbName, c.info.database);
          assert.match(id.systemId, /^\d+$/);
          assert.equal(id.timeline, 1);
          assert.ok(id.xlogPos > 0n);
          assert.equal(conn.serverParameters.get('TimeZone'), 'UTC');
          assert.ok(conn.backendPid > 0);
          const [r] = await conn.query(
            `SELECT usename, client_addr IS NULL FROM pg_stat_activity WHERE pid = ${conn.backendPid}`,
          );
          assert.deepEqual(r?.rows, [[c.info.roles[method].user, where === 'socket' ? 't' : 'f']]);
        } finally {
          await conn.close();
        }
      });
    }
  }

  for (const method of ['password', 'md5', 'scram-sha-256'] as const) {
    it(`refuses a wrong ${method} password with 28P01 naming the user, never the password`, async () => {
      const err = await connect(settings(method, { password: 'Wr0ng-S3cret-xyz' })).then(
        () => assert.fail('connected with a wrong password'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PgServerError, String(err));
      assert.equal(err.code, '28P01');
      assert.equal(err.phase, 'auth');
      assert.match(err.message, new RegExp(`user "${c.info.roles[method].user}"`));
      assert.match(err.message, /connection string/);
      assert.doesNotMatch(err.message, /Wr0ng-S3cret-xyz/);
    });
  }

  it('SASLpreps a non-ASCII SCRAM password the way the server did when it stored the verifier', async () => {
    // The server normalizes the password before deriving the verifier: soft hyphen dropped, U+2168
    // (roman numeral nine) NFKC'd to "IX", no-break space mapped to a space.
    const stored = 'p\u00e4ss\u00a0I\u00adX \u2168';
    psql(c.info, `ALTER ROLE wd_scram PASSWORD '${stored}'`);
    try {
      for (const given of [stored, 'p\u00e4ss IX IX']) {
        const conn = await connect(settings('scram-sha-256', { password: given }));
        await conn.close();
      }
      await assert.rejects(
        connect(settings('scram-sha-256', { password: 'p\u00e4ss IX' })),
        (e: unknown) => e instanceof PgServerError && e.code === '28P01',
      );
    } finally {
      psql(c.info, `ALTER ROLE wd_scram PASSWORD '${c.info.roles['scram-sha-256'].password}'`);
    }
  });

  it('never puts the password into trace events', async () => {
    const events: TraceEvent[] = [];
    for (const method of ['password', 'md5', 'scram-sha-256'] as const) {
      const conn = await connect(settings(method), { trace: (e) => events.push(e) });
      await conn.close();
    }
    const text = JSON.stringify(events, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    for (const method of ['password', 'md5', 'scram-sha-256'] as const) {
      assert.ok(!text.includes(c.info.roles[method].password));
    }
    assert.ok(events.some((e) => e.name === 'PasswordMessage' && e.fields.password === '[redacted]'));
    assert.ok(
      events.some((e) => e.name === 'SASLResponse' && /,p=\[redacted\]$/.test(String(e.fields.data))),
    );
  });

  it('asks for a password when none is given', async () => {
    const s = parseConnectionString(conninfo(c.info, 'md5', { password: '' }), { HOME: '/nonexistent' });
    await assert.rejects(
      connect(s),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_PASSWORD_MISSING',
    );
  });

  it('uses TLS with sslmode=require and prefer, not with disable', async () => {
    for (const [mode, ssl] of [
      ['require', 't'],
      ['prefer', 't'],
      ['allow', 'f'], // allow tries plaintext first; this server accepts it
      ['disable', 'f'],
    ] as const) {
      const conn = await connect(settings('scram-sha-256', { sslmode: mode }));
      try {
        const [r] = await conn.query(`SELECT ssl FROM pg_stat_ssl WHERE pid = ${conn.backendPid}`);
        assert.deepEqual(r?.rows, [[ssl]], mode);
      } finally {
        await conn.close();
      }
    }
  });

  it('verify-full passes for the certificate name and fails for another host name', async () => {
    const ok = await connect(
      settings('scram-sha-256', { host: 'localhost', sslmode: 'verify-full', sslrootcert: c.info.caFile }),
    );
    await ok.close();
    const err = await connect(
      settings('scram-sha-256', { host: '127.0.0.1', sslmode: 'verify-full', sslrootcert: c.info.caFile }),
    ).then(
      () => assert.fail('verify-full accepted a certificate for another name'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectionError, String(err));
    assert.equal(err.code, 'WALDUCK_TLS_FAILED');
    assert.equal(err.phase, 'tls');
    assert.match(err.message, /does not match host name "127\.0\.0\.1"/);
  });

  it('verify-ca checks the chain but not the name; it fails against an unknown CA', async () => {
    const ok = await connect(
      settings('scram-sha-256', { host: '127.0.0.1', sslmode: 'verify-ca', sslrootcert: c.info.caFile }),
    );
    await ok.close();
    // The server's own certificate is not a CA: chain verification must fail.
    const wrongCa = `${c.info.dir}/server.crt`;
    await assert.rejects(
      connect(settings('scram-sha-256', { sslmode: 'verify-ca', sslrootcert: wrongCa })),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_TLS_FAILED',
    );
  });

  it('verify modes need a root certificate; the system CAs do not know the throwaway CA', async () => {
    await assert.rejects(
      connect(settings('scram-sha-256', { host: 'localhost', sslmode: 'verify-full' })),
      (e: unknown) => e instanceof ConfigError && /sslrootcert/.test(e.message),
    );
    await assert.rejects(
      connect(
        settings('scram-sha-256', { host: 'localhost', sslmode: 'verify-full', sslrootcert: 'system' }),
      ),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_TLS_FAILED',
    );
  });

  it('never uses TLS on a unix socket, whatever sslmode says (as libpq)', async () => {
    const conn = await connect(settings('scram-sha-256', { host: c.info.socketDir, sslmode: 'verify-full' }));
    try {
      const [r] = await conn.query(`SELECT ssl FROM pg_stat_ssl WHERE pid = ${conn.backendPid}`);
      assert.deepEqual(r?.rows, [['f']]);
    } finally {
      await conn.close();
    }
  });

  it('binds SCRAM to the TLS channel (SCRAM-SHA-256-PLUS) and requires TLS for channel_binding=require', async () => {
    const events: TraceEvent[] = [];
    const conn = await connect(
      settings('scram-sha-256', { sslmode: 'require', channel_binding: 'require' }),
      {
        trace: (e) => events.push(e),
      },
    );
    await conn.close();
    assert.equal(
      events.find((e) => e.name === 'SASLInitialResponse')?.fields.mechanism,
      'SCRAM-SHA-256-PLUS',
    );
    await assert.rejects(
      connect(settings('scram-sha-256', { sslmode: 'disable', channel_binding: 'require' })),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_CHANNEL_BINDING_REQUIRED',
    );
    await assert.rejects(
      connect(settings('md5', { sslmode: 'require', channel_binding: 'require' })),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_CHANNEL_BINDING_REQUIRED',
    );
  });

  it('require_auth refuses methods the user did not allow', async () => {
    await assert.rejects(
      connect(settings('md5', { require_auth: 'scram-sha-256' })),
      (e: unknown) =>
        e instanceof AuthError && e.code === 'WALDUCK_AUTH_METHOD_NOT_ALLOWED' && /md5/.test(e.message),
    );
    await assert.rejects(
      connect(settings('password', { require_auth: '!password' })),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_AUTH_METHOD_NOT_ALLOWED',
    );
    await assert.rejects(
      connect(settings('trust', { require_auth: 'scram-sha-256' })),
      (e: unknown) => e instanceof AuthError && e.code === 'WALDUCK_AUTH_METHOD_NOT_ALLOWED',
    );
    const ok = await connect(settings('scram-sha-256', { require_auth: 'scram-sha-256' }));
    await ok.close();
  });

  it('passes NoticeResponse to onNotice and keeps the session settings', async () => {
    const notices: NoticeFields[] = [];
    const conn = await connect(settings('superuser'), {
      replication: false,
      onNotice: (n) => notices.push(n),
    });
    try {
      await conn.query("DO $$ BEGIN RAISE WARNING 'careful: %', 42; END $$");
      assert.equal(notices[0]?.message, 'careful: 42');
      assert.equal(notices[0]?.severityCode, 'WARNING');
      const [r] = await conn.query(
        "SELECT '2020-01-02 03:04:05+02'::timestamptz::text, '\\x01'::bytea::text, 0.1::float8::text",
      );
      assert.deepEqual(r?.rows, [['2020-01-02 01:04:05+00', '\\x01', '0.1']]);
    } finally {
      await conn.close();
    }
  });

  it('reports SQL errors with every field and stays usable', async () => {
    const conn = await connect(settings('superuser'), { replication: false });
    try {
      await conn.query('CREATE TABLE uq(id int CONSTRAINT uq_pk PRIMARY KEY)');
      await conn.query('INSERT INTO uq VALUES (1)');
      const err = await conn.query('INSERT INTO uq VALUES (1)').then(
        () => assert.fail('duplicate accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PgServerError);
      assert.equal(err.sqlstate, '23505');
      assert.equal(err.phase, 'command');
      assert.equal(err.severity, 'ERROR');
      assert.equal(err.table, 'uq');
      assert.equal(err.schema, 'public');
      assert.equal(err.constraint, 'uq_pk');
      assert.match(err.detail ?? '', /Key \(id\)=\(1\) already exists/);
      assert.ok(err.file && err.line && err.routine);
      await assert.rejects(
        conn.query('SELECT 1\0; DROP TABLE uq'),
        (e: unknown) => e instanceof ArgumentError,
      );
      const [r] = await conn.query('SELECT count(*) FROM uq');
      assert.deepEqual(r?.rows, [['1']]);
      const multi = await conn.query('SELECT 1; ; SELECT 2 AS b');
      assert.deepEqual(
        multi.map((m) => [m.command, m.fields.map((f) => f.name), m.rows]),
        [
          ['SELECT 1', ['?column?'], [['1']]],
          ['SELECT 1', ['b'], [['2']]],
        ],
      );
    } finally {
      await conn.close();
    }
    psql(c.info, 'DROP TABLE uq');
  });

  it('fails fast with CONNECT_FAILED when nothing listens, and close() is idempotent', async () => {
    await assert.rejects(
      connect(parseConnectionString(`host=127.0.0.1 port=1 user=x dbname=y sslmode=disable`, {})),
      (e: unknown) =>
        e instanceof ConnectionError && e.code === 'WALDUCK_CONNECT_FAILED' && e.phase === 'connect',
    );
    const conn = await connect(settings('trust'));
    await conn.close();
    await conn.close();
    await assert.rejects(
      conn.query('SELECT 1'),
      (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_CONNECTION_CLOSED',
    );
  });
});
