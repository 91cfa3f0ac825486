// Protocol benchmarks, printed as JSON and as a table:
//  1. frames: the captured wal2json stream (test/fixtures/protocol/stream-v2.bin.gz), cut into 64 KiB
//     chunks as the socket delivers them, through FrameDecoder and the XLogData decoder: frames/s, MB/s.
//  2. stream: a throwaway cluster, two slots created at the same point, N rows inserted; then the same
//     slot range (--endpos) streamed by `pg_recvlogical -f /dev/null` and by our client: MB/s each and
//     the ratio (ours / pg_recvlogical).
// Usage: npm run build && node dist/bench/protocol-frames.js [--rows 200000] [--seconds 3] [--skip-stream]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { conninfo, psql, startCluster, stopCluster } from '../src/cluster/throwaway.js';
import { FrameDecoder } from '../src/protocol/frame-decoder.js';
import { connect, formatLsn, type Lsn, parseConnectionString, parseLsn } from '../src/protocol/index.js';
import { COPY_DATA } from '../src/protocol/messages/copy-data.js';
import { decodeStreamMessage } from '../src/protocol/replication/stream-message.js';
import { fixturesDir } from '../test/helpers/paths.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

function benchFrames(seconds: number) {
  const stream = gunzipSync(readFileSync(`${fixturesDir}protocol/stream-v2.bin.gz`));
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
  let frames = 0;
  let payload = 0;
  const onFrame = (tag: number, body: Buffer): void => {
    frames++;
    if (tag === COPY_DATA) {
      const m = decodeStreamMessage(body);
      if (m.type === 'XLogData') payload += m.data.length;
    }
  };
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let passes = 0;
  while (performance.now() < deadline) {
    const d = new FrameDecoder();
    for (const c of chunks) d.push(c, onFrame);
    passes++;
  }
  const s = (performance.now() - t0) / 1000;
  return {
    bytes: stream.length * passes,
    frames,
    seconds: s,
    framesPerSecond: Math.round(frames / s),
    mbPerSecond: Number(((stream.length * passes) / 1e6 / s).toFixed(1)),
    payloadMbPerSecond: Number((payload / 1e6 / s).toFixed(1)),
  };
}

async function benchStream(rows: number) {
  const info = await startCluster();
  try {
    psql(
      info,
      "SELECT pg_create_logical_replication_slot('bench_ours', 'wal2json'), pg_create_logical_replication_slot('bench_theirs', 'wal2json')",
    );
    psql(
      info,
      `CREATE TABLE bench(id bigint primary key, n numeric, t timestamptz, s text);
       INSERT INTO bench SELECT g, g * 1.25, '2020-01-01'::timestamptz + g * interval '1 s', 'row number ' || g FROM generate_series(1, ${rows}) g`,
    );
    const endpos = parseLsn(psql(info, 'SELECT pg_current_wal_lsn()')) as Lsn;
    const options = [['format-version', '2']] as const;

    const t0 = performance.now();
    const r = spawnSync(
      'pg_recvlogical',
      [
        '-d',
        `host=${info.socketDir} port=${info.port} user=postgres dbname=${info.database}`,
        '--slot',
        'bench_theirs',
        '--start',
        '--no-loop',
        '-E',
        formatLsn(endpos),
        '-f',
        '/dev/null',
        ...options.flatMap(([k, v]) => ['-o', `${k}=${v}`]),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const theirsSeconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`pg_recvlogical: ${r.stderr}`);

    const t1 = performance.now();
    const conn = await connect(parseConnectionString(conninfo(info, 'trust', { host: info.socketDir }), {}));
    const stream = await conn.startReplication({ slot: 'bench_ours', startLsn: 0n, options });
    let bytes = 0;
    let messages = 0;
    for await (const m of stream) {
      if (m.type === 'PrimaryKeepalive') {
        if (m.walEnd >= endpos) break;
        continue;
      }
      if (m.dataStart > endpos) break;
      bytes += m.data.length + 1;
      messages++;
      if (m.dataStart === endpos) break;
    }
    await conn.close();
    const oursSeconds = (performance.now() - t1) / 1000;
    return {
      rows,
      messages,
      payloadBytes: bytes,
      pgRecvlogicalSeconds: Number(theirsSeconds.toFixed(3)),
      oursSeconds: Number(oursSeconds.toFixed(3)),
      pgRecvlogicalMbPerSecond: Number((bytes / 1e6 / theirsSeconds).toFixed(1)),
      oursMbPerSecond: Number((bytes / 1e6 / oursSeconds).toFixed(1)),
      ratio: Number((theirsSeconds / oursSeconds).toFixed(2)),
    };
  } finally {
    stopCluster(info);
  }
}

const frames = benchFrames(arg('seconds', 3));
const stream = args.includes('--skip-stream') ? undefined : await benchStream(arg('rows', 200_000));
console.log(JSON.stringify({ frames, stream }, null, 2));
console.table({
  'frame decode (captured stream)': { 'frames/s': frames.framesPerSecond, 'MB/s': frames.mbPerSecond },
  ...(stream
    ? {
        'pg_recvlogical -f /dev/null': {
          'MB/s': stream.pgRecvlogicalMbPerSecond,
          seconds: stream.pgRecvlogicalSeconds,
        },
        'walduck protocol stream': {
          'MB/s': stream.oursMbPerSecond,
          seconds: stream.oursSeconds,
          'ratio (ours/pg)': stream.ratio,
        },
      }
    : {}),
});
