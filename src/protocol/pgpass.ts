// The password file (~/.pgpass, or PGPASSFILE): lines of hostname:port:database:username:password,
// '*' matching anything, '\' escaping ':' and '\'. The first matching line wins. As libpq, a file that
// group or others can read is ignored: a password there is not a secret.

import { readFileSync, statSync } from 'node:fs';
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
  try {
    const st = statSync(file);
    if (!st.isFile()) return undefined;
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) return undefined;
    return findInPgpass(readFileSync(file, 'utf8'), q);
  } catch {
    return undefined;
  }
}
