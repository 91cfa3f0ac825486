// A vendor's program, compiled by the vendoring test in a project holding nothing but copies of
// src/protocol and src/wal2json (as ./protocol and ./wal2json), TypeScript and Node's type
// declarations. It streams a temporary wal2json slot over SCRAM and verified TLS (the test's
// conninfo demands both), decodes each payload into typed changes, acknowledges each commit's end LSN,
// and prints every change as a JSON line (LSNs as text) until the test's marker row arrives.
import { connect, formatLsn, parseConnectionString } from './protocol/index.js';
import { type Change, createDecoder, wal2jsonOptions } from './wal2json/index.js';

const [conninfo = '', formatVersion = '2'] = process.argv.slice(2);
const version = formatVersion === '1' ? 1 : 2;
const conn = await connect(parseConnectionString(conninfo, {}), { replication: 'database' });
const slot = `vendor_w2j_${process.pid}`;
const created = await conn.createReplicationSlot(slot, { plugin: 'wal2json', temporary: true });
const stream = await conn.startReplication({
  slot,
  startLsn: created.consistentPoint,
  options: wal2jsonOptions({ formatVersion: version, ...(version === 1 ? { writeInChunks: true } : {}) }),
});
const decoder = createDecoder({ formatVersion: version });
process.stdout.write('streaming\n');

const show = (c: Change): unknown =>
  JSON.parse(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? formatLsn(v) : v)));
let markerSeen = false;
let finished = false;
for await (const m of stream) {
  if (m.type !== 'XLogData') continue;
  for (const c of decoder.decode(m.data, m.dataStart)) {
    process.stdout.write(`${JSON.stringify(show(c))}\n`);
    if (c.kind === 'insert' && c.table === 'vendor_end') markerSeen = true;
    if (c.kind === 'commit') {
      stream.acknowledge(c.lsn);
      finished = markerSeen;
    }
  }
  if (finished) break; // at a message boundary: leaving the loop stops the stream cleanly
}
await conn.close();
