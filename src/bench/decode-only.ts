// The "decode only" contender: stream and decode with wal2json's decoder, apply nothing.
//   node dist/src/bench/decode-only.js CONNINFO SLOT ENDPOS FORMAT [chunks]
// Prints {"bytes":…, "changes":…} on stdout. Stops as pg_recvlogical's --endpos does.
import { connect, parseConnectionString } from '../protocol/index.js';
import { parseLsn } from '../protocol/lsn.js';
import { createDecoder, wal2jsonOptions } from '../wal2json/index.js';
import { BenchError } from './errors.js';

const [conninfo, slot = '', endText = '', format = '2', chunks] = process.argv.slice(2);
const endpos = parseLsn(endText);
if (endpos === undefined) throw new BenchError(`not an LSN: ${endText}`);
const formatVersion = format === '1' ? 1 : 2;
const conn = await connect(parseConnectionString(conninfo, process.env));
const stream = await conn.startReplication({
  slot,
  startLsn: 0n,
  options: wal2jsonOptions({ formatVersion, ...(chunks ? { writeInChunks: true } : {}) }),
});
const decoder = createDecoder({ formatVersion });
let bytes = 0;
let changes = 0;
for await (const m of stream) {
  if (m.type === 'XLogData') {
    if (m.dataStart > endpos) break;
    bytes += m.data.length;
    for (const _ of decoder.decode(m.data, m.dataStart)) changes++;
    stream.acknowledge(m.dataStart);
  } else if (m.walEnd >= endpos) break;
}
await stream.stop();
await conn.close();
process.stdout.write(`${JSON.stringify({ bytes, changes })}\n`);
