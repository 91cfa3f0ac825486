// A vendor's program, compiled by the vendoring test in a project holding nothing but a copy of
// src/protocol (as ./protocol), TypeScript and Node's type declarations. It runs one replication
// session: connect (the test's conninfo demands SCRAM over verified TLS), create a temporary wal2json
// slot, stream until the commit of the transaction the test writes, acknowledge that commit, and wait
// until the server reports the slot confirmed exactly there. It prints one JSON line of what it saw.
import { connect, formatLsn, parseConnectionString, type XLogData } from './protocol/index.js';

const conninfo = process.argv[2] ?? '';
const settings = parseConnectionString(conninfo, {});
const repl = await connect(settings, { replication: 'database' });
const plain = await connect(settings, { replication: false });
const slot = `vendor_${process.pid}`;
const created = await repl.createReplicationSlot(slot, { plugin: 'wal2json', temporary: true });
const stream = await repl.startReplication({
  slot,
  startLsn: created.consistentPoint,
  options: [['format-version', '2']],
});
process.stdout.write('streaming\n'); // the test writes its transaction now

const actions: string[] = [];
let commit: XLogData | undefined;
for await (const m of stream) {
  if (m.type !== 'XLogData') continue;
  const action = (JSON.parse(m.data.toString('utf8')) as { action: string }).action;
  actions.push(action);
  if (action === 'C') {
    commit = m;
    // A v2 commit's dataStart is the transaction's end LSN: what a consumer acknowledges once applied.
    stream.acknowledge(m.dataStart);
    break; // leaving the loop stops the stream after a last status update carrying it
  }
}
if (!commit) throw new Error('the stream ended before a commit');
const [row] = await plain.query(
  `SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`,
);
const confirmed = row?.rows[0]?.[0];
await repl.close();
await plain.close();
const seen = { actions, acknowledged: formatLsn(commit.dataStart), confirmed, sslmode: settings.sslmode };
process.stdout.write(`${JSON.stringify(seen)}\n`);
