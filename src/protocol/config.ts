// Connection settings the libpq way: a key=value conninfo string or a postgres:// URL; what it leaves
// out comes from the PG* environment variables, then from defaults; a missing password is looked up in
// the password file (~/.pgpass or PGPASSFILE). https://www.postgresql.org/docs/current/libpq-connect.html

import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ConfigError } from './errors.js';
import { lookupPgpass } from './pgpass.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type ChannelBindingMode = 'disable' | 'prefer' | 'require';
/** `none` = the server asked for no authentication at all (trust). */
export type AuthMethodName = 'password' | 'md5' | 'scram-sha-256' | 'none';

export interface ConnectionSettings {
  /** Host name, IP address, or (starting with '/') the directory of the server's unix socket. */
  readonly host: string;
  /** IP address to connect to instead of resolving `host` (which is still used for TLS checks). */
  readonly hostaddr?: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password?: string;
  /** Where the password came from, so that "wrong password" can say which one was wrong. */
  readonly passwordSource?: 'connection string' | 'PGPASSWORD' | 'password file';
  readonly sslmode: SslMode;
  readonly sslrootcert?: string;
  readonly sslcert?: string;
  readonly sslkey?: string;
  readonly sslsni: boolean;
  readonly applicationName: string;
  readonly channelBinding: ChannelBindingMode;
  /** Authentication methods the server may ask for; undefined = any. */
  readonly requireAuth?: readonly AuthMethodName[];
  readonly connectTimeoutMs?: number;
  /** Command-line options for the backend ("-c name=value ..."), as libpq's `options`. */
  readonly options?: string;
  /** Cap on SCRAM's PBKDF2 iterations a server may ask for (default 1,000,000). */
  readonly scramMaxIterations?: number;
}

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
const CHANNEL_BINDING: readonly ChannelBindingMode[] = ['disable', 'prefer', 'require'];
const AUTH_METHODS: readonly AuthMethodName[] = ['password', 'md5', 'scram-sha-256', 'none'];

/** Keys we understand; libpq keys that make no sense here are refused rather than silently ignored. */
const KEYS = new Set([
  'host',
  'hostaddr',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslsni',
  'application_name',
  'fallback_application_name',
  'channel_binding',
  'require_auth',
  'connect_timeout',
  'options',
  'passfile',
  'client_encoding',
  // The connection decides replication mode itself; accepted so libpq strings carrying it still parse.
  'replication',
]);

/** Environment variable for each key, used when the string leaves the key out. */
const ENV: Readonly<Record<string, string>> = {
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  dbname: 'PGDATABASE',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslsni: 'PGSSLSNI',
  application_name: 'PGAPPNAME',
  channel_binding: 'PGCHANNELBINDING',
  require_auth: 'PGREQUIREAUTH',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  options: 'PGOPTIONS',
  passfile: 'PGPASSFILE',
  client_encoding: 'PGCLIENTENCODING',
};

/** libpq's compiled-in socket directory: Debian's, else the upstream default. */
export function defaultSocketDir(): string {
  return existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

/**
 * Keys that came after a password in a conninfo string. An unquoted password holding a space
 * (`password=my secret`) leaves its second half looking like a key; errors must not quote it.
 */
const AFTER_PASSWORD = new WeakMap<Map<string, string>, Set<string>>();

/** A key as an error may show it: quoted, unless it followed a password (then it may be one). */
function keyForError(key: string, afterPassword: boolean): string {
  return afterPassword
    ? "a word after the password (not shown: if the password holds spaces, quote it as password='…')"
    : `"${key}"`;
}

/** Parses `key=value key2='quoted \' value'`. */
export function parseConninfo(input: string): Map<string, string> {
  const out = new Map<string, string>();
  const hidden = new Set<string>();
  AFTER_PASSWORD.set(out, hidden);
  let afterPassword = false;
  let i = 0;
  const n = input.length;
  const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);
  while (i < n) {
    while (isSpace(input[i])) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && input[i] !== '=' && !isSpace(input[i])) i++;
    const key = input.slice(keyStart, i);
    while (isSpace(input[i])) i++;
    if (input[i] !== '=')
      throw new ConfigError(
        'WALDUCK_BAD_CONNINFO',
        `connection string: missing "=" after ${keyForError(key, afterPassword)}`,
      );
    i++;
    while (isSpace(input[i])) i++;
    let value = '';
    if (input[i] === "'") {
      i++;
      for (;;) {
        if (i >= n)
          throw new ConfigError(
            'WALDUCK_BAD_CONNINFO',
            `connection string: unterminated quoted value for "${key}"`,
          );
        const c = input[i] as string;
        if (c === '\\' && i + 1 < n) {
          value += input[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < n && !isSpace(input[i])) {
        if (input[i] === '\\' && i + 1 < n) {
          value += input[i + 1];
          i += 2;
        } else value += input[i++];
      }
    }
    if (!key) throw new ConfigError('WALDUCK_BAD_CONNINFO', 'connection string: empty key before "="');
    if (afterPassword) hidden.add(key);
    if (key === 'password') afterPassword = true;
    out.set(key, value);
  }
  return out;
}

function decode(text: string, what: string): string {
  let out: string;
  try {
    out = decodeURIComponent(text);
  } catch {
    throw new ConfigError('WALDUCK_BAD_URL', `connection URL: invalid percent-encoding in ${what}`);
  }
  // As libpq: a NUL would end the C string early, or in our startup packet start a new parameter.
  if (out.includes('\0'))
    throw new ConfigError('WALDUCK_BAD_URL', `connection URL: forbidden %00 in ${what}`);
  return out;
}

/** Parses postgres[ql]://[user[:password]@][host][:port][/dbname][?key=value&...]. */
export function parseUrl(input: string): Map<string, string> {
  const m = /^postgres(?:ql)?:\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?(?:#.*)?$/.exec(input);
  if (!m)
    throw new ConfigError(
      'WALDUCK_BAD_URL',
      'connection URL: expected postgres://[user[:password]@][host][:port][/dbname][?param=value]',
    );
  const [, authority = '', path, query] = m;
  // A password holding an unencoded / ? or # ends the authority early, leaving its "@" behind in the
  // path, a bare query word or the fragment: anything said about those pieces could quote part of the
  // password. (An "@" in a query value, as in ?user=admin@server, is fine.)
  const fragment = /#.*$/.exec(input)?.[0] ?? '';
  const strayAt =
    !authority.includes('@') &&
    ((path ?? '').includes('@') ||
      fragment.includes('@') ||
      (query ?? '').split('&').some((pair) => pair.includes('@') && !pair.includes('=')));
  if (strayAt) {
    throw new ConfigError(
      'WALDUCK_BAD_URL',
      'connection URL: the user name or password holds a reserved character (/ ? # @ :); percent-encode it (/ as %2F, ? as %3F, # as %23, @ as %40)',
    );
  }
  const out = new Map<string, string>();
  let hostPort = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (user) out.set('user', decode(user, 'the user name'));
    if (colon >= 0) out.set('password', decode(userinfo.slice(colon + 1), 'the password'));
  }
  if (hostPort.includes(',')) {
    throw new ConfigError(
      'WALDUCK_UNSUPPORTED_SETTING',
      'connection URL: several hosts are not supported; give one host',
    );
  }
  let host = hostPort;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0)
      throw new ConfigError('WALDUCK_BAD_URL', 'connection URL: "[" of an IPv6 address is not closed');
    host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after.startsWith(':')) port = after.slice(1);
    else if (after)
      throw new ConfigError(
        'WALDUCK_BAD_URL',
        `connection URL: unexpected "${after}" after the IPv6 address`,
      );
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  if (host) out.set('host', decode(host, 'the host'));
  if (port) out.set('port', decode(port, 'the port'));
  if (path) out.set('dbname', decode(path, 'the database name'));
  if (query) {
    for (const pair of query.split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      if (eq < 0) throw new ConfigError('WALDUCK_BAD_URL', `connection URL: parameter "${pair}" has no "="`);
      const key = decode(pair.slice(0, eq), 'a parameter name');
      const value = decode(pair.slice(eq + 1), `the value of ${key}`);
      // JDBC-style ssl=true, which libpq also accepts in URLs.
      if (key === 'ssl' && value === 'true') out.set('sslmode', 'require');
      else out.set(key, value);
    }
  }
  return out;
}

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError('WALDUCK_BAD_SETTING', `${key}="${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** require_auth: "scram-sha-256,md5" allows these; "!password,!md5" allows all but these (libpq). */
export function parseRequireAuth(value: string): readonly AuthMethodName[] {
  const items = value.split(',').map((s) => s.trim());
  const negated = items.filter((s) => s.startsWith('!'));
  if (negated.length > 0 && negated.length !== items.length) {
    throw new ConfigError(
      'WALDUCK_BAD_SETTING',
      `require_auth="${value}": negative (!) and positive methods cannot be mixed`,
    );
  }
  const names = items.map((s) => oneOf('require_auth', s.replace(/^!/, ''), AUTH_METHODS));
  return negated.length ? AUTH_METHODS.filter((m) => !names.includes(m)) : names;
}

/**
 * Connection settings from a conninfo string or URL (or undefined: environment only). The string wins;
 * PG* variables in `env` fill what it leaves out; then defaults; the password file supplies a password
 * if there is still none.
 */
export function parseConnectionString(
  input: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  /** Warnings (an insecure or unreadable password file); default: stderr, as libpq. */
  warn?: (msg: string) => void,
): ConnectionSettings {
  const text = (input ?? '').trim();
  let given: Map<string, string>;
  if (/^postgres(?:ql)?:\/\//.test(text)) given = parseUrl(text);
  else if (text.includes('=')) given = parseConninfo(text);
  else given = new Map(text ? [['dbname', text]] : []);
  return settingsFrom(given, env, warn);
}

/**
 * Connection settings from keys already parsed (parseConninfo, parseUrl), e.g. with -h/-p/-U set over
 * them. Not written back into a conninfo string and parsed again: that loses which keys followed a
 * password, and every URL parameter after one would be reported as "a word after the password".
 */
export function settingsFrom(
  given: Map<string, string>,
  env: NodeJS.ProcessEnv = process.env,
  warn?: (msg: string) => void,
): ConnectionSettings {
  const hidden = AFTER_PASSWORD.get(given);
  for (const [key, value] of given) {
    if (!KEYS.has(key))
      throw new ConfigError(
        'WALDUCK_BAD_SETTING',
        `unknown connection setting ${keyForError(key, hidden?.has(key) ?? false)}; known: ${[...KEYS].join(', ')}`,
      );
    if (value.includes('\0')) {
      // Never echoed: it may be the password. Sent as is it would end the value early and let the
      // rest act as further startup parameters.
      throw new ConfigError('WALDUCK_BAD_SETTING', `connection setting "${key}" contains a NUL character`);
    }
  }
  const get = (key: string): string | undefined => {
    const v = given.get(key);
    if (v !== undefined && v !== '') return v;
    const envName = ENV[key];
    const e = envName ? env[envName] : undefined;
    return e !== undefined && e !== '' ? e : undefined;
  };

  const host = get('host') ?? defaultSocketDir();
  if (host.includes(','))
    throw new ConfigError('WALDUCK_UNSUPPORTED_SETTING', 'several hosts are not supported; give one host');
  const portText = get('port') ?? '5432';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    // Not quoted: from a URL whose password held an unencoded "/", the "port" is part of the password.
    throw new ConfigError('WALDUCK_BAD_SETTING', 'the port is not a number from 1 to 65535');
  }
  const port = Number(portText);
  const user = get('user') ?? osUser();
  const database = get('dbname') ?? user;
  const encoding = get('client_encoding');
  if (encoding && !/^utf-?8$/i.test(encoding)) {
    throw new ConfigError(
      'WALDUCK_UNSUPPORTED_SETTING',
      `client_encoding="${encoding}": this client speaks UTF8 only`,
    );
  }
  const timeoutText = get('connect_timeout');
  let connectTimeoutMs: number | undefined;
  if (timeoutText !== undefined) {
    if (!/^\d+$/.test(timeoutText))
      throw new ConfigError(
        'WALDUCK_BAD_SETTING',
        `connect_timeout="${timeoutText}" is not a whole number of seconds`,
      );
    // libpq: 0 means wait forever; values below 2 are raised to 2.
    const s = Number(timeoutText);
    if (s > 0) connectTimeoutMs = Math.max(s, 2) * 1000;
  }
  const sniText = get('sslsni') ?? '1';
  const requireAuth = get('require_auth');

  let password = given.get('password') || undefined;
  let passwordSource: ConnectionSettings['passwordSource'] =
    password !== undefined ? 'connection string' : undefined;
  if (password === undefined && env.PGPASSWORD) {
    password = env.PGPASSWORD;
    passwordSource = 'PGPASSWORD';
  }
  if (password === undefined) {
    password = lookupPgpass({
      host,
      port,
      database,
      user,
      passfile: get('passfile'),
      env,
      socketDefault: defaultSocketDir(),
      warn,
    });
    if (password !== undefined) passwordSource = 'password file';
  }

  for (const [what, v] of [
    ['user', user],
    ['dbname', database],
    ['application_name', get('application_name')],
    ['options', get('options')],
    ['password', password],
  ] as const) {
    if (v?.includes('\0'))
      throw new ConfigError('WALDUCK_BAD_SETTING', `connection setting "${what}" contains a NUL character`);
  }
  // sslrootcert=system trusts every public CA, so any certificate issued for any name would pass
  // unless the name is checked: libpq makes verify-full its default and refuses weaker modes.
  const sslrootcertGiven = get('sslrootcert');
  const sslmodeGiven = get('sslmode');
  if (sslrootcertGiven === 'system' && sslmodeGiven !== undefined && sslmodeGiven !== 'verify-full') {
    throw new ConfigError(
      'WALDUCK_BAD_SETTING',
      `sslmode=${sslmodeGiven} may not be used with sslrootcert=system (any public certificate would pass): use sslmode=verify-full`,
    );
  }
  const settings: {
    -readonly [K in keyof ConnectionSettings]: ConnectionSettings[K];
  } = {
    host,
    port,
    user,
    database,
    sslmode: oneOf(
      'sslmode',
      sslmodeGiven ?? (sslrootcertGiven === 'system' ? 'verify-full' : 'prefer'),
      SSL_MODES,
    ),
    sslsni: sniText !== '0',
    applicationName: get('application_name') ?? given.get('fallback_application_name') ?? 'walduck',
    channelBinding: oneOf('channel_binding', get('channel_binding') ?? 'prefer', CHANNEL_BINDING),
  };
  const hostaddr = get('hostaddr');
  if (hostaddr !== undefined) settings.hostaddr = hostaddr;
  if (password !== undefined) settings.password = password;
  if (passwordSource !== undefined) settings.passwordSource = passwordSource;
  const sslrootcert = get('sslrootcert');
  if (sslrootcert !== undefined) settings.sslrootcert = sslrootcert;
  const sslcert = get('sslcert');
  if (sslcert !== undefined) settings.sslcert = sslcert;
  const sslkey = get('sslkey');
  if (sslkey !== undefined) settings.sslkey = sslkey;
  if (requireAuth !== undefined) settings.requireAuth = parseRequireAuth(requireAuth);
  if (connectTimeoutMs !== undefined) settings.connectTimeoutMs = connectTimeoutMs;
  const options = get('options');
  if (options !== undefined) settings.options = options;
  return settings;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    throw new ConfigError(
      'WALDUCK_BAD_SETTING',
      'no user given and the OS user name is unknown: set user= or PGUSER',
    );
  }
}

/** True for a unix-socket directory (libpq: an absolute path). */
export function isUnixSocketHost(host: string): boolean {
  return host.startsWith('/');
}

/** The settings as text for logs and errors: never the password. */
export function describeSettings(s: ConnectionSettings): string {
  const where = isUnixSocketHost(s.host) ? `socket ${s.host}/.s.PGSQL.${s.port}` : `${s.host}:${s.port}`;
  return `${s.user}@${where}/${s.database} (sslmode=${s.sslmode})`;
}
