// Print every change of a database as it happens: the protocol client and the wal2json decoder,
// no DuckDB. A temporary slot lives as long as this connection; Ctrl-C (SIGINT) stops cleanly.
//   node examples/print-changes.mjs 'host=db user=repl dbname=shop sslmode=verify-full'
import { connect, formatLsn, parseConnectionString } from 'walduck/protocol';
import { createDecoder, wal2jsonOptions } from 'walduck/wal2json';

const settings = parseConnectionString(process.argv[2], process.env);
const conn = await connect(settings, {
  replication: 'database',
  onNotice: (n) => console.error(`server ${n.severity}: ${n.message}`),
});
const slot = `print_changes_${process.pid}`;
const created = await conn.createReplicationSlot(slot, { plugin: 'wal2json', temporary: true });
const stream = await conn.startReplication({
  slot,
  startLsn: created.consistentPoint,
  options: wal2jsonOptions({ formatVersion: 2 }),
});
const decoder = createDecoder({ formatVersion: 2 });
console.log(`streaming from ${formatLsn(created.consistentPoint)}`);

// A quiet stream has nothing to wake the loop: ask the server for a keepalive, then leave the loop.
let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
  stream.requestKeepalive();
});

const row = (image) => Object.fromEntries(image.names.map((name, i) => [name, image.values[i]]));
for await (const m of stream) {
  if (m.type === 'XLogData') {
    for (const c of decoder.decode(m.data, m.dataStart)) {
      const table = `${c.schema}.${c.table}`;
      if (c.kind === 'insert') console.log('insert', table, JSON.stringify(row(c.new)));
      else if (c.kind === 'update') console.log('update', table, JSON.stringify(row(c.new)));
      else if (c.kind === 'delete') console.log('delete', table, JSON.stringify(row(c.old)));
      else if (c.kind === 'truncate') console.log('truncate', c.tables.map((t) => t.table).join(', '));
      else if (c.kind === 'commit') {
        console.log('commit', formatLsn(c.lsn));
        // Printed is all this consumer does with a change: the server may forget it now.
        stream.acknowledge(c.lsn);
      }
    }
  }
  if (stopping) break; // leaving the loop stops the stream cleanly (CopyDone, then drain)
}
await conn.close();
