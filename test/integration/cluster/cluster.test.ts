// The throwaway cluster is the ground every integration test stands on: if it is misconfigured,
// these fail first and say why.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type AuthMethod,
  conninfo,
  processAlive,
  psql,
  reapStale,
  startCluster,
  stopCluster,
} from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';

function psqlAs(connstr: string, sql: string): { status: number | null; out: string; err: string } {
  const r = spawnSync('psql', ['-X', '-A', '-t', '-c', sql, connstr], {
    encoding: 'utf8',
    env: { ...process.env, PGPASSWORD: '', PGCONNECT_TIMEOUT: '10' },
  });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('throwaway cluster', () => {
  const c = useCluster();

  it('runs with wal_level=logical and enough slots and senders', () => {
    assert.equal(psql(c.info, 'SHOW wal_level'), 'logical');
    assert.ok(Number(psql(c.info, 'SHOW max_replication_slots')) >= 10);
    assert.ok(Number(psql(c.info, 'SHOW max_wal_senders')) >= 10);
    assert.notEqual(c.info.port, 5432);
  });

  it('loads the wal2json plugin', () => {
    psql(c.info, "SELECT pg_create_logical_replication_slot('harness_probe', 'wal2json')");
    psql(c.info, 'CREATE TABLE probe(id int primary key); INSERT INTO probe VALUES (1)');
    const out = psql(
      c.info,
      "SELECT data FROM pg_logical_slot_get_changes('harness_probe', NULL, NULL, 'format-version', '2')",
    );
    assert.match(out, /"action":"I".*"table":"probe"/);
    psql(c.info, "SELECT pg_drop_replication_slot('harness_probe'); DROP TABLE probe");
  });

  for (const method of [
    'trust',
    'password',
    'md5',
    'scram-sha-256',
  ] as const satisfies readonly AuthMethod[]) {
    it(`authenticates ${method} over TCP and the unix socket, and allows replication`, () => {
      const role = c.info.roles[method];
      // pg_hba really asks for this method when a wrong password fails (but for trust) and the right one passes.
      for (const host of ['127.0.0.1', c.info.socketDir]) {
        const ok = psqlAs(conninfo(c.info, method, { host, replication: 'database' }), 'IDENTIFY_SYSTEM');
        assert.equal(ok.status, 0, ok.err);
        assert.match(ok.out, new RegExp(`\\|${c.info.database}$`));
        const bad = psqlAs(conninfo(c.info, method, { host, password: 'wrong' }), 'SELECT 1');
        if (method === 'trust') assert.equal(bad.status, 0, bad.err);
        else assert.match(bad.err, new RegExp(`password authentication failed for user "${role.user}"`));
      }
    });
  }

  it('stores an md5 hash for the md5 role (else PostgreSQL would upgrade it to SCRAM)', () => {
    assert.equal(psql(c.info, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'wd_md5'"), 'md5');
    assert.equal(
      psql(c.info, "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'wd_scram'"),
      'SCRAM-SHA-256',
    );
  });

  it('serves TLS: require works, verify-full passes for localhost and fails for 127.0.0.1', () => {
    const req = psqlAs(
      conninfo(c.info, 'scram-sha-256', { sslmode: 'require' }),
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    assert.equal(req.out, 't', req.err);
    const full = psqlAs(
      conninfo(c.info, 'scram-sha-256', {
        host: 'localhost',
        sslmode: 'verify-full',
        sslrootcert: c.info.caFile,
      }),
      'SELECT 1',
    );
    assert.equal(full.status, 0, full.err);
    const wrong = psqlAs(
      conninfo(c.info, 'scram-sha-256', { sslmode: 'verify-full', sslrootcert: c.info.caFile }),
      'SELECT 1',
    );
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.err, /does not match host name/);
  });
});

describe('cluster access', () => {
  const c = useCluster();

  it('does not trust the superuser over TCP, and only the owner may open the socket', () => {
    const noPassword = psqlAs(conninfo(c.info, 'superuser', { password: '' }), 'SELECT 1');
    assert.notEqual(noPassword.status, 0, 'the superuser logged in over TCP without a password');
    const wrong = psqlAs(conninfo(c.info, 'superuser', { password: 'guess' }), 'SELECT 1');
    assert.notEqual(wrong.status, 0, 'the superuser logged in over TCP with a wrong password');
    const right = psqlAs(conninfo(c.info, 'superuser'), 'SELECT current_user');
    assert.equal(right.status, 0, right.err);
    assert.equal(right.out, 'postgres');
    assert.equal(psql(c.info, 'SHOW unix_socket_permissions'), '0700');
    assert.equal((statSync(c.info.socketDir).mode & 0o777).toString(8), '700');
    assert.equal((statSync(join(c.info.dir, 'cluster.json')).mode & 0o077).toString(8), '0');
  });
});

describe('stale-cluster reaping', () => {
  it("signals only that cluster's own postmaster, and leaves other users' directories alone", () => {
    const asRoot = process.getuid?.() === 0;
    // As root, pg_ctl runs as postgres: the decoy must be one it could signal, to show that it does not.
    const ids = asRoot
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
          gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
        }
      : {};
    const decoy = spawn('sleep', ['600'], { stdio: 'ignore', ...ids });
    const deadOwner = spawnSync('true').pid;
    const staleDir = (): string => {
      const dir = mkdtempSync(join(tmpdir(), 'walduck-pg-'));
      mkdirSync(join(dir, 'data'));
      writeFileSync(join(dir, 'owner.pid'), String(deadOwner));
      writeFileSync(join(dir, 'data', 'postmaster.pid'), `${decoy.pid}\n${join(dir, 'data')}\n`);
      return dir;
    };
    const ours = staleDir();
    const foreign = asRoot ? staleDir() : undefined;
    if (foreign) chownSync(foreign, 65534, 65534); // nobody's
    try {
      reapStale();
      assert.ok(processAlive(decoy.pid as number), 'the decoy named in postmaster.pid was signalled');
      assert.equal(existsSync(ours), false, 'a stale directory of ours, with no server running, stays');
      if (foreign) assert.ok(existsSync(foreign), "another user's directory was removed");
    } finally {
      decoy.kill();
      if (foreign) rmSync(foreign, { recursive: true, force: true });
      rmSync(ours, { recursive: true, force: true });
    }
  });
});

describe('cluster lifecycle', () => {
  it('leaves no server process and no directory behind', async () => {
    const info = await startCluster({ removeOnExit: false });
    assert.ok(processAlive(info.pid));
    assert.ok(existsSync(info.dataDir));
    stopCluster(info);
    assert.equal(existsSync(info.dir), false);
    // pg_ctl -w waits for the postmaster to exit; its children go with it.
    assert.equal(processAlive(info.pid), false);
  });
});
