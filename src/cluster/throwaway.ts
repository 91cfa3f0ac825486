// A throwaway PostgreSQL cluster for tests, benches, `walduck demo` and hand use (`npm run pg`).
//
// initdb into a fresh temp dir, its own port on loopback and its own unix-socket dir, wal_level=logical,
// TLS with a throwaway CA, and one login role per auth method, each allowed to replicate. It never
// touches a system cluster or port 5432. PostgreSQL refuses to run as root, so when we are root the
// server (and everything that writes in its directory) runs as the `postgres` OS user.
//
// Node built-ins only: `demo` ships this in the product.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalduckError } from '../protocol/errors.js';

export type AuthMethod = 'trust' | 'password' | 'md5' | 'scram-sha-256';

export interface ClusterRole {
  readonly user: string;
  readonly password: string;
  readonly method: AuthMethod;
}

/** What a caller needs to reach the cluster; also what `npm run pg -- start` writes to `cluster.json`. */
export interface ClusterInfo {
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly port: number;
  readonly pid: number;
  readonly ownerPid: number;
  readonly superuser: string;
  readonly database: string;
  /** CA certificate that signed the server's certificate (CN and SAN `localhost`). */
  readonly caFile: string;
  readonly roles: Readonly<Record<AuthMethod, ClusterRole>>;
  readonly binDir: string;
  readonly majorVersion: number;
}

const ROLES: Readonly<Record<AuthMethod, ClusterRole>> = {
  trust: { user: 'wd_trust', password: '', method: 'trust' },
  password: { user: 'wd_password', password: 'pw-cleartext-S3cret', method: 'password' },
  md5: { user: 'wd_md5', password: 'pw-md5-S3cret', method: 'md5' },
  'scram-sha-256': { user: 'wd_scram', password: 'pw-scram-S3cret', method: 'scram-sha-256' },
};

const PREFIX = 'walduck-pg-';
const asRoot = process.getuid?.() === 0;

export class ClusterError extends WalduckError {
  override readonly name = 'ClusterError';
  readonly code = 'WALDUCK_CLUSTER';
  readonly phase = 'cluster';
}

/** Finds the newest installed PostgreSQL's bin dir (Debian layout), or PG_BINDIR, or pg_config's. */
export function findBinDir(): string {
  const fromEnv = process.env.PG_BINDIR;
  if (fromEnv) return fromEnv;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], 'bin');
  }
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (r.status === 0 && existsSync(join(r.stdout.trim(), 'initdb'))) return r.stdout.trim();
  throw new ClusterError(
    'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install postgresql-15 (Debian: apt-get install -y postgresql-15) or set PG_BINDIR',
  );
}

function run(
  cmd: string,
  args: readonly string[],
  opts: { asPostgres?: boolean; input?: string } = {},
): string {
  const [file, argv] =
    opts.asPostgres && asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, {
    encoding: 'utf8',
    input: opts.input ?? '',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (r.error) throw new ClusterError(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) {
    throw new ClusterError(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    if (port !== 5432 && port !== 0) return port;
  }
}

function giveToPostgres(path: string): void {
  if (!asRoot) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(path, uid, gid);
}

function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  const quiet = { input: '' };
  run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=walduck throwaway CA',
      '-keyout',
      caKey,
      '-out',
      ca,
    ],
    quiet,
  );
  run(
    'openssl',
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', key, '-out', csr],
    quiet,
  );
  // The SAN names only `localhost`, so verify-full against 127.0.0.1 must fail: tests rely on that.
  writeFileSync(ext, 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n');
  run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      cert,
    ],
    quiet,
  );
  chmodSync(key, 0o600);
  giveToPostgres(key);
  giveToPostgres(cert);
  for (const f of [ca, cert]) chmodSync(f, 0o644);
  return { ca, cert, key };
}

function hbaLines(): string {
  const lines = ['# TYPE  DATABASE          USER  ADDRESS  METHOD'];
  for (const r of Object.values(ROLES)) {
    lines.push(`local all,replication ${r.user} ${r.method}`);
    for (const addr of ['127.0.0.1/32', '::1/128'])
      lines.push(`host all,replication ${r.user} ${addr} ${r.method}`);
  }
  // The superuser (the harness's own admin connection) is trusted on the socket and loopback only.
  lines.push('local all,replication postgres trust');
  for (const addr of ['127.0.0.1/32', '::1/128']) lines.push(`host all,replication postgres ${addr} trust`);
  return `${lines.join('\n')}\n`;
}

export interface StartOptions {
  /** Extra postgresql.conf lines, e.g. `{ wal_level: 'replica' }` to test refusal. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Database created for the caller (default `walduck`). */
  readonly database?: string;
  /** Stop and remove the cluster when this process exits (default true; `npm run pg -- start` says false). */
  readonly removeOnExit?: boolean;
}

/** Creates and starts a throwaway cluster. Call `stopCluster` (tests: in `after`) to remove it. */
export async function startCluster(options: StartOptions = {}): Promise<ClusterInfo> {
  reapStale();
  const binDir = findBinDir();
  const majorVersion = Number(/(\d+)/.exec(run(join(binDir, 'postgres'), ['--version']))?.[1] ?? 0);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  let started = false;
  try {
    // A cluster started by hand (`npm run pg -- start`) outlives its starter: no owner, never reaped.
    if (options.removeOnExit !== false) writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    mkdirSync(socketDir);
    giveToPostgres(socketDir);
    giveToPostgres(dir);
    run(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'],
      {
        asPostgres: true,
      },
    );
    const { ca, cert, key } = makeCertificates(dir);
    const port = await freePort();
    const settings: Record<string, string> = {
      port: String(port),
      listen_addresses: "'127.0.0.1,::1'",
      unix_socket_directories: `'${socketDir}'`,
      wal_level: 'logical',
      max_replication_slots: '32',
      max_wal_senders: '32',
      max_connections: '100',
      ssl: 'on',
      ssl_cert_file: `'${cert}'`,
      ssl_key_file: `'${key}'`,
      password_encryption: "'scram-sha-256'",
      // A throwaway cluster needs no durability of its own; walduck's durability is DuckDB's.
      fsync: 'off',
      full_page_writes: 'off',
      log_min_messages: 'warning',
      ...options.settings,
    };
    const conf = Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n');
    run('sh', ['-c', `cat >> '${join(dataDir, 'postgresql.conf')}'`], {
      asPostgres: true,
      input: `\n${conf}\n`,
    });
    run('sh', ['-c', `cat > '${join(dataDir, 'pg_hba.conf')}'`], { asPostgres: true, input: hbaLines() });
    run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], {
      asPostgres: true,
    });
    started = true;
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const database = options.database ?? 'walduck';
    const info: ClusterInfo = {
      dir,
      dataDir,
      socketDir,
      port,
      pid,
      ownerPid: process.pid,
      superuser: 'postgres',
      database,
      caFile: ca,
      roles: ROLES,
      binDir,
      majorVersion,
    };
    const roleSql = Object.values(ROLES).map((r) => {
      const pw = r.password ? ` PASSWORD '${r.password}'` : '';
      // md5 must store an md5 hash: with a SCRAM verifier PostgreSQL silently upgrades md5 to SCRAM.
      const enc =
        r.method === 'md5'
          ? "SET password_encryption = 'md5'; "
          : "SET password_encryption = 'scram-sha-256'; ";
      return `${enc}CREATE ROLE ${r.user} LOGIN REPLICATION${pw};`;
    });
    psql(info, roleSql.join('\n'), 'postgres');
    psql(info, `CREATE DATABASE ${database}`, 'postgres');
    const grants = Object.values(ROLES)
      .map((r) => `GRANT ALL ON SCHEMA public TO ${r.user}; GRANT pg_read_all_data TO ${r.user};`)
      .join('\n');
    psql(info, grants);
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify(info, null, 2));
    if (options.removeOnExit !== false) {
      // A last resort for a test process that ends without its `after` hook: never leave a server behind.
      process.once('exit', () => stopCluster(info));
    }
    return info;
  } catch (err) {
    if (started)
      spawnSync('runuser', [
        '-u',
        'postgres',
        '--',
        join(binDir, 'pg_ctl'),
        '-D',
        dataDir,
        '-m',
        'immediate',
        'stop',
      ]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Stops the server (immediate: a test cluster needs no checkpoint) and removes its directory. */
export function stopCluster(info: Pick<ClusterInfo, 'dir' | 'dataDir' | 'binDir'>): void {
  if (existsSync(join(info.dataDir, 'postmaster.pid'))) {
    try {
      run(join(info.binDir, 'pg_ctl'), ['-D', info.dataDir, '-m', 'immediate', '-w', 'stop'], {
        asPostgres: true,
      });
    } catch {
      // Already gone: nothing to stop, the directory still goes.
    }
  }
  rmSync(info.dir, { recursive: true, force: true });
}

/** Removes clusters whose creating process died without cleaning up (a killed test run). */
export function reapStale(): void {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(base, name);
    const ownerFile = join(dir, 'owner.pid');
    if (!existsSync(ownerFile)) continue;
    const owner = Number(readFileSync(ownerFile, 'utf8'));
    if (owner > 0 && isAlive(owner)) continue;
    stopCluster({ dir, dataDir: join(dir, 'data'), binDir: safeBinDir() });
  }
}

function safeBinDir(): string {
  try {
    return findBinDir();
  } catch {
    return '/nonexistent';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie answers signal 0 but has exited; some init processes (e.g. in sandboxes) never reap
  // orphans, so a stopped postmaster can linger as one.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Runs SQL through psql as the superuser over the unix socket; returns unaligned, tuples-only output. */
export function psql(
  info: Pick<ClusterInfo, 'socketDir' | 'port' | 'database'>,
  sql: string,
  database?: string,
): string {
  return run('psql', [...psqlArgs(info, database), '-A', '-t', '-c', sql]).replace(/\n$/, '');
}

/** psql's arguments to reach the cluster as the superuser over the socket, stopping at the first error. */
export function psqlArgs(
  info: Pick<ClusterInfo, 'socketDir' | 'port' | 'database'>,
  database?: string,
): string[] {
  return [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    info.socketDir,
    '-p',
    String(info.port),
    '-U',
    'postgres',
    '-d',
    database ?? info.database,
  ];
}

/** A libpq key=value conninfo for a role of the cluster (over TCP on 127.0.0.1 unless `host` given). */
export function conninfo(
  info: ClusterInfo,
  method: AuthMethod | 'superuser' = 'scram-sha-256',
  extra: Record<string, string> = {},
): string {
  const role = method === 'superuser' ? { user: 'postgres', password: '' } : info.roles[method];
  const parts: Record<string, string> = {
    host: '127.0.0.1',
    port: String(info.port),
    user: role.user,
    dbname: info.database,
    sslmode: 'disable',
    ...(role.password ? { password: role.password } : {}),
    ...extra,
  };
  return Object.entries(parts)
    .map(([k, v]) => `${k}='${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}

/** Environment variables for psql, pg_recvlogical and walduck itself (superuser over the socket). */
export function clusterEnv(info: ClusterInfo): Record<string, string> {
  return {
    PGHOST: info.socketDir,
    PGPORT: String(info.port),
    PGUSER: 'postgres',
    PGDATABASE: info.database,
    WALDUCK_PG_DIR: info.dir,
  };
}

/** Whether the process is still running: used by tests that check nothing is left behind. */
export { isAlive as processAlive };
