// Connection settings the libpq way: conninfo quoting, URLs (percent-encoding, IPv6, query
// parameters, socket paths), PG* variables filling gaps, the password file, and refusals.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultSocketDir, parseConnectionString, parseRequireAuth } from '../../../src/protocol/config.js';
import { ConfigError } from '../../../src/protocol/errors.js';
import { findInPgpass, splitPgpassLine } from '../../../src/protocol/pgpass.js';

const NOENV = { HOME: '/nonexistent' };
const bad = (code: string) => (e: unknown) => e instanceof ConfigError && e.code === code;

describe('conninfo strings', () => {
  it('parses key=value pairs with quotes, escapes and spaces around =', () => {
    const s = parseConnectionString(
      "host=db.example port = 6543 user='o\\'brien' password='a b\\\\c' dbname=app sslmode=verify-full application_name=x",
      NOENV,
    );
    assert.equal(s.host, 'db.example');
    assert.equal(s.port, 6543);
    assert.equal(s.user, "o'brien");
    assert.equal(s.password, 'a b\\c');
    assert.equal(s.passwordSource, 'connection string');
    assert.equal(s.database, 'app');
    assert.equal(s.sslmode, 'verify-full');
    assert.equal(s.applicationName, 'x');
  });

  it('refuses unknown keys, bad values and unterminated quotes', () => {
    assert.throws(() => parseConnectionString('hots=x', NOENV), bad('WALDUCK_BAD_SETTING'));
    assert.throws(() => parseConnectionString('sslmode=sometimes', NOENV), bad('WALDUCK_BAD_SETTING'));
    assert.throws(() => parseConnectionString('port=70000', NOENV), bad('WALDUCK_BAD_SETTING'));
    assert.throws(() => parseConnectionString("user='abc", NOENV), bad('WALDUCK_BAD_CONNINFO'));
    assert.throws(() => parseConnectionString('user abc=1', NOENV), bad('WALDUCK_BAD_CONNINFO'));
    assert.throws(() => parseConnectionString('host=a,b', NOENV), bad('WALDUCK_UNSUPPORTED_SETTING'));
    assert.throws(
      () => parseConnectionString('client_encoding=LATIN1', NOENV),
      bad('WALDUCK_UNSUPPORTED_SETTING'),
    );
  });

  it('takes a bare word as the database name, as psql -d does', () => {
    assert.equal(parseConnectionString('mydb', { ...NOENV, PGUSER: 'u' }).database, 'mydb');
  });
});

describe('URLs', () => {
  it('decodes user, password, host, port, database and parameters', () => {
    const s = parseConnectionString(
      'postgresql://us%40er:p%3Ass%2Fw@db.example:5433/my%20db?sslmode=require&application_name=w%20d',
      NOENV,
    );
    assert.deepEqual(
      [s.user, s.password, s.host, s.port, s.database, s.sslmode, s.applicationName],
      ['us@er', 'p:ss/w', 'db.example', 5433, 'my db', 'require', 'w d'],
    );
  });

  it('takes IPv6 hosts in brackets and socket directories percent-encoded', () => {
    const v6 = parseConnectionString('postgres://u@[::1]:6000/d', NOENV);
    assert.deepEqual([v6.host, v6.port], ['::1', 6000]);
    const sock = parseConnectionString('postgres://u@%2Fvar%2Frun%2Fpostgresql/d', NOENV);
    assert.equal(sock.host, '/var/run/postgresql');
    const q = parseConnectionString('postgres:///d?host=/tmp/sock&user=u', NOENV);
    assert.equal(q.host, '/tmp/sock');
  });

  it('maps ssl=true to sslmode=require and refuses broken URLs', () => {
    assert.equal(parseConnectionString('postgres://u@h/d?ssl=true', NOENV).sslmode, 'require');
    assert.throws(() => parseConnectionString('postgres://u@[::1/d', NOENV), bad('WALDUCK_BAD_URL'));
    assert.throws(() => parseConnectionString('postgres://u@h/d?x', NOENV), bad('WALDUCK_BAD_URL'));
    assert.throws(() => parseConnectionString('postgres://u@h/%zz', NOENV), bad('WALDUCK_BAD_URL'));
    assert.throws(
      () => parseConnectionString('postgres://u@h1,h2/d', NOENV),
      bad('WALDUCK_UNSUPPORTED_SETTING'),
    );
  });

  it('never quotes a password whose unencoded / ? # ended the authority early', () => {
    for (const secret of ['Xq7/Zk9', 'Xq7?Zk9', 'Xq7#Zk9', 'Xq7:Zk/9']) {
      const url = `postgresql://u:${secret}@h:5433/d`;
      assert.throws(
        () => parseConnectionString(url, NOENV),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.code === 'WALDUCK_BAD_URL' &&
          /percent-encode/.test(e.message) &&
          !['Xq7', 'Zk9', 'Zk'].some((part) => e.message.includes(part)),
      );
    }
    const encoded = parseConnectionString(`postgres://u:${encodeURIComponent('se/c?r#t@')}@h/d`, NOENV);
    assert.equal(encoded.password, 'se/c?r#t@');
    // "@" where libpq allows it stays allowed.
    assert.equal(parseConnectionString('postgres://h/d?user=admin@server', NOENV).user, 'admin@server');
    assert.equal(parseConnectionString('postgres://u@h/db@x?application_name=a@b', NOENV).database, 'db@x');
    // A password with an unencoded "/" and no "@" after it: the port error quotes nothing.
    assert.throws(
      () => parseConnectionString('postgres://u:Xq7/Zk9', NOENV),
      (e: unknown) => e instanceof ConfigError && !/Xq7|Zk9/.test(e.message),
    );
  });
});

describe('environment and defaults', () => {
  it('fills what the string leaves out from PG* variables; the string wins', () => {
    const env = {
      ...NOENV,
      PGHOST: 'envhost',
      PGPORT: '7000',
      PGUSER: 'envuser',
      PGPASSWORD: 'envpw',
      PGDATABASE: 'envdb',
      PGSSLMODE: 'disable',
      PGAPPNAME: 'envapp',
      PGCONNECT_TIMEOUT: '1',
      PGREQUIREAUTH: 'scram-sha-256',
      PGCHANNELBINDING: 'require',
      PGOPTIONS: '-c wal_sender_timeout=0',
    };
    const s = parseConnectionString('user=given', env);
    assert.equal(s.host, 'envhost');
    assert.equal(s.port, 7000);
    assert.equal(s.user, 'given');
    assert.equal(s.password, 'envpw');
    assert.equal(s.passwordSource, 'PGPASSWORD');
    assert.equal(s.database, 'envdb');
    assert.equal(s.sslmode, 'disable');
    assert.equal(s.applicationName, 'envapp');
    assert.equal(s.connectTimeoutMs, 2000); // libpq raises 1 s to 2 s
    assert.deepEqual(s.requireAuth, ['scram-sha-256']);
    assert.equal(s.channelBinding, 'require');
    assert.equal(s.options, '-c wal_sender_timeout=0');
  });

  it('defaults like libpq: socket dir, 5432, database = user, sslmode prefer', () => {
    const s = parseConnectionString(undefined, { ...NOENV, PGUSER: 'me' });
    assert.equal(s.host, defaultSocketDir());
    assert.equal(s.port, 5432);
    assert.equal(s.database, 'me');
    assert.equal(s.sslmode, 'prefer');
    assert.equal(s.channelBinding, 'prefer');
    assert.equal(s.password, undefined);
  });

  it('parses require_auth lists, positive or negated', () => {
    assert.deepEqual(parseRequireAuth('md5,scram-sha-256'), ['md5', 'scram-sha-256']);
    assert.deepEqual(parseRequireAuth('!password,!md5'), ['scram-sha-256', 'none']);
    assert.throws(() => parseRequireAuth('md5,!password'), bad('WALDUCK_BAD_SETTING'));
    assert.throws(() => parseRequireAuth('kerberos'), bad('WALDUCK_BAD_SETTING'));
  });
});

describe('password file', () => {
  it('splits lines at unescaped colons', () => {
    assert.deepEqual(splitPgpassLine('h:5432:d:u:p\\:w\\\\d'), ['h', '5432', 'd', 'u', 'p:w\\d']);
  });

  it('takes the first matching line, with * wildcards; a default-dir socket matches localhost', () => {
    const text = ['# comment', 'other:5432:*:u:nope', '*:5432:app:u:first', '*:*:*:*:second', ''].join('\n');
    const q = { host: 'db', port: 5432, database: 'app', user: 'u', socketDefault: '/run/pg' };
    assert.equal(findInPgpass(text, q), 'first');
    assert.equal(findInPgpass(text, { ...q, database: 'x' }), 'second');
    assert.equal(findInPgpass('localhost:5432:app:u:sock', { ...q, host: '/run/pg' }), 'sock');
    assert.equal(findInPgpass('localhost:5432:app:u:sock', { ...q, host: '/other/dir' }), undefined);
  });

  it('is read from PGPASSFILE only when no password is given, and ignored when others can read it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wd-pgpass-'));
    const file = join(dir, 'pgpass');
    writeFileSync(file, 'h:5432:d:u:from-file\n');
    chmodSync(file, 0o600);
    const env = { ...NOENV, PGPASSFILE: file };
    const s = parseConnectionString('host=h user=u dbname=d', env);
    assert.equal(s.password, 'from-file');
    assert.equal(s.passwordSource, 'password file');
    assert.equal(parseConnectionString('host=h user=u dbname=d password=given', env).password, 'given');
    chmodSync(file, 0o644);
    assert.equal(parseConnectionString('host=h user=u dbname=d', env).password, undefined);
  });
});
