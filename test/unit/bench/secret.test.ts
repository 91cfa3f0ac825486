// Bench children get the connection string without its password (a command line is public to every
// local user); the password rides in PGPASSWORD, and the child ends up with the same settings.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { passwordToEnv } from '../../../src/bench/secret.js';
import { parseConnectionString } from '../../../src/protocol/config.js';

it('moves the password from the connection string (conninfo or URL) into PGPASSWORD', () => {
  const env = { HOME: '/nonexistent' };
  for (const source of [
    "host=127.0.0.1 port=5433 user=bench password='s3cr\\'et pw' dbname=shop sslmode=disable",
    'postgres://bench:s3cr%27et%20pw@127.0.0.1:5433/shop?sslmode=disable',
  ]) {
    const child = passwordToEnv(source, env);
    assert.ok(!child.source.includes('s3cr'), child.source);
    assert.equal(child.env.PGPASSWORD, "s3cr'et pw");
    const direct = parseConnectionString(source, env);
    const viaChild = parseConnectionString(child.source, child.env);
    assert.deepEqual({ ...viaChild, passwordSource: undefined }, { ...direct, passwordSource: undefined });
  }
  // No password: nothing added, the caller's environment untouched.
  const none = passwordToEnv('host=h user=u', env);
  assert.equal(none.env.PGPASSWORD, undefined);
  assert.notEqual(none.env, env);
});
