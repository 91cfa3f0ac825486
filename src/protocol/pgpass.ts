// The password file (~/.pgpass, or PGPASSFILE): lines of hostname:port:database:username:password,
// '*' matching anything, '\' escaping ':' and '\'. The first matching line wins. As libpq, a file that
// group or others can access, or that is not a plain file, is ignored with a warning: a password there
// is not a secret. A file that exists but cannot be read is ignored with a warning too (libpq is silent
// there; a user wondering why the password is not used deserves the reason).

import { readFileSync, type Stats, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface PgpassQuery {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly passfile: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly socketDefault: string;
  /** Where warnings go (libpq prints them on stderr). */
  readonly warn?: ((msg: string) => void) | undefined;
}

/** Splits one line at unescaped ':' and removes the escapes. */
export function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && i + 1 < line.length) cur += line[++i];
    else if (c === ':') {
      fields.push(cur);
      cur = '';
    } else cur += c;
  }
  fields.push(cur);
  return fields;
}

export function findInPgpass(text: string, q: Omit<PgpassQuery, 'passfile' | 'env'>): string | undefined {
  // A socket in the default directory matches "localhost", as in libpq; another directory matches itself.
  const host = q.host.startsWith('/') && q.host === q.socketDefault ? 'localhost' : q.host;
  const want = [host, String(q.port), q.database, q.user];
  for (const raw of text.split(/\r?\n/)) {
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = splitPgpassLine(raw);
    if (fields.length < 5) continue;
    if (want.every((w, i) => fields[i] === '*' || fields[i] === w)) return fields.slice(4).join(':');
  }
  return undefined;
}

export function lookupPgpass(q: PgpassQuery): string | undefined {
  const file = q.passfile ?? q.env.PGPASSFILE ?? join(q.env.HOME ?? homedir(), '.pgpass');
  const warn = q.warn ?? ((m: string) => process.stderr.write(`WARNING: ${m}\n`));
  let st: Stats;
  try {
    st = statSync(file);
  } catch {
    return undefined; // no password file: nothing to say, as libpq
  }
  if (!st.isFile()) {
    warn(`password file "${file}" is not a plain file`);
    return undefined;
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    warn(`password file "${file}" has group or world access; permissions should be u=rw (0600) or less`);
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    warn(
      `password file "${file}" cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); ignoring it`,
    );
    return undefined;
  }
  return findInPgpass(text, q);
}
