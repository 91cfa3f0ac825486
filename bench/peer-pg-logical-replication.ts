// The Node peer in `walduck bench`: what a user would otherwise write with pg-logical-replication (a
// devDependency only). Its wal2json consumer (Wal2JsonPlugin) with the library's defaults (every
// XLogData acknowledged as it arrives, no flow control), receiving and parsing every change and
// writing nothing. The plugin gets the same wal2json options as every other contender.
//   node dist/bench/peer-pg-logical-replication.js CONNINFO SLOT ENDPOS OPTIONS
// OPTIONS: the wal2json options as the JSON of wal2jsonOptions' [name, value] pairs.
//   node dist/bench/peer-pg-logical-replication.js --probe     exits 0 when the package is installed
// Stops as pg_recvlogical's --endpos does: at the first XLogData that starts after ENDPOS (not
// counted), or a keepalive whose WAL end reached it. Prints {"changes":…} on stdout.
// The package is loaded with a dynamic import so that a production install (no devDependencies)
// gets one clear line instead of a stack trace; walduck's runtime (src/) never loads this file.
import { parseConnectionString } from '../src/protocol/index.js';
import { parseLsn } from '../src/protocol/lsn.js';

type Peer = typeof import('pg-logical-replication');

async function load(): Promise<Peer | undefined> {
  try {
    return await import('pg-logical-replication');
  } catch {
    return undefined;
  }
}

const peer = await load();
if (process.argv[2] === '--probe') process.exit(peer ? 0 : 1);
if (!peer) {
  process.stderr.write('pg-logical-replication is not installed (a devDependency: npm install)\n');
  process.exit(3);
}

const [conninfo = '', slot = '', endText = '', optionsJson = '[]'] = process.argv.slice(2);
const endpos = parseLsn(endText);
if (endpos === undefined) throw new Error(`not an LSN: ${endText}`);
const s = parseConnectionString(conninfo, process.env);

// The plugin takes camelCase keys; the ones it quotes as strings keep their text, the rest it turns
// into on/off from truthiness, so '0' must become false here.
const STRING_KEYS = new Set(['formatVersion', 'addTables', 'filterTables', 'actions']);
const options: Record<string, string | boolean> = {};
const pairs = JSON.parse(optionsJson) as [string, string][];
const format = pairs.find(([k]) => k === 'format-version')?.[1] ?? '1';
for (const [k, v] of pairs) {
  const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  options[key] = STRING_KEYS.has(key) ? v : v === '1';
}

const service = new peer.LogicalReplicationService({
  host: s.host,
  port: s.port,
  user: s.user,
  database: s.database,
  ...(s.password !== undefined ? { password: s.password } : {}),
  // TLS where the connection string demands it (prefer/allow are taken as plain, as a bench may).
  ...(['require', 'verify-ca', 'verify-full'].includes(s.sslmode)
    ? { ssl: { rejectUnauthorized: s.sslmode !== 'require' } }
    : {}),
});
let changes = 0;
let done = false;
let finish: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  finish = resolve;
});
const stop = () => {
  if (done) return;
  done = true;
  finish();
};
service.on('data', (lsn: string, log: unknown) => {
  if (done) return;
  if ((parseLsn(lsn) ?? 0n) > endpos) return stop();
  const action = (log as { action?: string } | null)?.action;
  if (format === '1') changes += (log as { change?: unknown[] } | null)?.change?.length ?? 0;
  else if (action === 'I' || action === 'U' || action === 'D' || action === 'T') changes++;
});
service.on('heartbeat', (lsn: string) => {
  if ((parseLsn(lsn) ?? 0n) >= endpos) stop();
});
let failure: unknown;
service.on('error', (e: Error) => {
  failure = e;
  stop();
});
// subscribe() settles only when the stream ends; it is not awaited before the end is reached.
const subscribed = service.subscribe(new peer.Wal2JsonPlugin(options), slot).catch((e: unknown) => {
  failure ??= e;
  stop();
});
await finished;
await service.stop();
await subscribed;
if (failure !== undefined) {
  process.stderr.write(`pg-logical-replication: ${String(failure)}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ changes })}\n`);
