// Captures real server bytes for the protocol tests and benches: runs a throwaway cluster, puts a TCP
// proxy between our client and it, and records what the server sends. Writes, gzipped:
//   test/fixtures/protocol/session-md5.bin.gz     startup with md5 auth, a query, a slot, a short stream
//   test/fixtures/protocol/stream-v2.bin.gz       a longer wal2json format-version 2 stream
// Usage: npm run build && node dist/bench/protocol-capture.js
import { writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { conninfo, psql, startCluster, stopCluster } from '../src/cluster/throwaway.js';
import { connect, parseConnectionString } from '../src/protocol/index.js';
import { fixturesDir } from '../test/helpers/paths.js';

async function proxy(port: number, record: Buffer[]): Promise<{ port: number; close: () => void }> {
  const server = createServer((client) => {
    const upstream = netConnect({ host: '127.0.0.1', port });
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      record.push(Buffer.from(d));
      client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, close: () => server.close() };
}

async function session(
  info: Awaited<ReturnType<typeof startCluster>>,
  rows: number,
  name: string,
): Promise<void> {
  const record: Buffer[] = [];
  const p = await proxy(info.port, record);
  const conn = await connect(parseConnectionString(conninfo(info, 'md5', { port: String(p.port) }), {}));
  await conn.query('SELECT 1 AS one, NULL::text AS nothing');
  const slot = `cap_${name.replace(/\W/g, '_')}`;
  await conn.createReplicationSlot(slot, { plugin: 'wal2json', temporary: true });
  psql(info, `CREATE TABLE IF NOT EXISTS ${slot} (id bigint primary key, n numeric, t timestamptz, v text)`);
  psql(
    info,
    `INSERT INTO ${slot} SELECT g, g * 1.5, '2020-01-01'::timestamptz + g * interval '1 s', 'row ' || g || ' é😀' FROM generate_series(1, ${rows}) g`,
  );
  psql(info, `UPDATE ${slot} SET v = repeat('x', ${rows > 100 ? 100000 : 3000}) WHERE id = 1`);
  psql(info, `DELETE FROM ${slot} WHERE id = 2`);
  const stream = await conn.startReplication({ slot, startLsn: 0n, options: [['format-version', '2']] });
  let commits = 0;
  for await (const m of stream) {
    if (m.type === 'XLogData' && m.data.toString().startsWith('{"action":"C"')) commits++;
    if (commits === 4) break; // create table, insert, update, delete
  }
  await conn.close();
  p.close();
  writeFileSync(`${fixturesDir}protocol/${name}.bin.gz`, gzipSync(Buffer.concat(record)));
  console.log(`${name}: ${Buffer.concat(record).length} bytes in ${record.length} chunks`);
}

const info = await startCluster();
try {
  await session(info, 3, 'session-md5');
  await session(info, 40_000, 'stream-v2');
} finally {
  stopCluster(info);
}
