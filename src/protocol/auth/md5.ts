// md5 authentication: the server sends a 4-byte salt; we answer
// "md5" + hex(md5( hex(md5(password + user)) + salt )). The inner hash is what pg_authid stores.
// Weak (a captured answer plus the salt allows offline guessing): require_auth can forbid it.

import { createHash } from 'node:crypto';

export function md5PasswordResponse(user: string, password: string, salt: Uint8Array): string {
  const inner = createHash('md5').update(password, 'utf8').update(user, 'utf8').digest('hex');
  const outer = createHash('md5').update(inner, 'utf8').update(salt).digest('hex');
  return `md5${outer}`;
}
