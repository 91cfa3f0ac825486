// Decode-only CPU of the wal2json decoder, no server: `changes` generated insert changes (six columns,
// as wal2json prints them with walduck's options) in transactions of 1000, as v2 lines and as v1
// whole-transaction documents, decoded (every change consumed) by each checkout's build. With
// `skip`, every other transaction's table is declined (DecoderOptions.skip), as replicate does for an
// unfollowed table. Payloads are Buffer views, as the stream hands them out.
// "v2 stream" also runs the protocol side: the same lines as XLogData inside CopyData frames, cut
// into 64 KiB chunks as a socket delivers them, through the checkout's Wire and ReplicationStream
// (an in-process stand-in for the socket; nothing is sent anywhere) and then the decoder, so framing
// and message objects per CopyData are counted too.
// Median of `runs` CPU times (user + system, this process). Run after `npm run build`:
//   node scripts/measure-decode.mjs [changes] [runs] [checkout ...]
// WALDUCK_MEASURE=v2,stream (a comma list of v2, v1, skip, stream) runs only those (e.g. under --cpu-prof);
// WALDUCK_MEASURE_OIDS=1 prints type OIDs too (include-type-oids, which walduck does not ask for).
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';

const changes = Number(process.argv[2] ?? 400_000);
const runs = Number(process.argv[3] ?? 5);
const checkouts =
  process.argv.length > 4
    ? process.argv.slice(4).map((d) => resolve(d))
    : [resolve(import.meta.dirname, '..')];
const only = process.env.WALDUCK_MEASURE?.split(',');
// Type OIDs are printed only with WALDUCK_MEASURE_OIDS=1: walduck does not ask for include-type-oids.
const oids = process.env.WALDUCK_MEASURE_OIDS === '1';
const wanted = (k) => only === undefined || only.includes(k);
const enc = { encode: (s) => Buffer.from(s, 'utf8') };

const col = (name, type, oid, value) => ({ name, type, oid, value });
function columns(g) {
  return [
    col('id', 'bigint', 20, String(g)),
    col('note', 'text', 25, JSON.stringify(`note number ${g}`)),
    col('n', 'integer', 23, String(g % 1000)),
    col('at', 'timestamp with time zone', 1184, '"2024-01-01 00:00:00+00"'),
    col('amount', 'numeric(12,2)', 1700, (g / 7).toFixed(2)),
    col('flag', 'boolean', 16, g % 2 === 0 ? 'true' : 'false'),
  ];
}
const table = (t) => (t % 2 === 0 ? 'busy' : 'other');

function v2Lines() {
  const out = [];
  for (let t = 0; t < changes / 1000; t++) {
    out.push(
      enc.encode(
        `{"action":"B","xid":${700 + t},"timestamp":"2026-12-01 15:00:00.1+00","lsn":"0/1","nextlsn":"0/2"}`,
      ),
    );
    for (let i = 0; i < 1000; i++) {
      const g = t * 1000 + i;
      const cols = columns(g)
        .map(
          (c) =>
            `{"name":"${c.name}","type":"${c.type}",${oids ? `"typeoid":${c.oid},` : ''}"value":${c.value}}`,
        )
        .join(',');
      out.push(
        enc.encode(
          `{"action":"I","xid":${700 + t},"timestamp":"2026-12-01 15:00:00.1+00","lsn":"0/1","schema":"public","table":"${table(t)}","columns":[${cols}],"pk":[{"name":"id","type":"bigint"${oids ? ',"typeoid":20' : ''}}]}`,
        ),
      );
    }
    out.push(
      enc.encode(
        `{"action":"C","xid":${700 + t},"timestamp":"2026-12-01 15:00:00.1+00","lsn":"0/2","nextlsn":"0/2"}`,
      ),
    );
  }
  return out;
}

function v1Docs() {
  const out = [];
  for (let t = 0; t < changes / 1000; t++) {
    const els = [];
    for (let i = 0; i < 1000; i++) {
      const cs = columns(t * 1000 + i);
      els.push(
        `{"kind":"insert","schema":"public","table":"${table(t)}","columnnames":[${cs.map((c) => `"${c.name}"`).join(',')}],"columntypes":[${cs.map((c) => `"${c.type}"`).join(',')}],${oids ? `"columntypeoids":[${cs.map((c) => c.oid).join(',')}],` : ''}"columnvalues":[${cs.map((c) => c.value).join(',')}],"pk":{"pknames":["id"],"pktypes":["bigint"]}}`,
      );
    }
    out.push(
      enc.encode(
        `{"xid":${700 + t},"nextlsn":"0/2","timestamp":"2026-12-01 15:00:00.1+00","change":[${els.join(',')}]}`,
      ),
    );
  }
  return out;
}

const inputs = { 2: v2Lines(), 1: v1Docs() };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The v2 lines as a server sends them: each an XLogData (25-byte header) in a CopyData frame, and the
// frames cut into 64 KiB chunks regardless of frame boundaries.
function streamChunks() {
  const frames = [];
  let lsn = 0x1000000n;
  for (const line of inputs[2]) {
    const f = Buffer.allocUnsafe(5 + 25 + line.length);
    f[0] = 0x64;
    f.writeInt32BE(4 + 25 + line.length, 1);
    f[5] = 0x77;
    f.writeBigUInt64BE(lsn, 6);
    f.writeBigUInt64BE(lsn + 100n, 14);
    f.writeBigInt64BE(0n, 22);
    line.copy(f, 30);
    lsn += BigInt(line.length);
    frames.push(f);
  }
  const all = Buffer.concat(frames);
  const out = [];
  // Copies: Node hands out a fresh Buffer per socket read.
  for (let i = 0; i < all.length; i += 65536) out.push(Buffer.from(all.subarray(i, i + 65536)));
  return out;
}

/** What Wire needs of a net.Socket; writes (status updates) go nowhere. */
class FakeSocket extends EventEmitter {
  setNoDelay() {}
  resume() {}
  pause() {}
  write() {
    return true;
  }
  destroy() {}
}

async function streamRunner(checkout, createDecoder) {
  const { Wire } = await import(`${checkout}/dist/src/protocol/wire.js`);
  const { ReplicationStream } = await import(`${checkout}/dist/src/protocol/replication/stream.js`);
  const chunks = streamChunks();
  return () => {
    const socket = new FakeSocket();
    const wire = new Wire(socket, {});
    wire.sessionStarted();
    const stream = new ReplicationStream(
      wire,
      { slot: 's', startLsn: 0n, feedbackIntervalMs: 3_600_000 },
      () => {},
    );
    const d = createDecoder({ formatVersion: 2 });
    let n = 0;
    const c0 = process.cpuUsage();
    for (const chunk of chunks) {
      socket.emit('data', chunk);
      for (let m = stream.tryNext(); m !== undefined; m = stream.tryNext()) {
        if (m.type === 'XLogData') for (const _ of d.decode(m.data, m.dataStart, m.more === true)) n++;
      }
    }
    const c1 = process.cpuUsage(c0);
    return { cpu: (c1.user + c1.system) / 1e6, n };
  };
}

// The checkouts take turns, run by run, so a change in the machine's load hits them alike.
const decoders = [];
for (const checkout of checkouts)
  decoders.push((await import(`${checkout}/dist/src/wal2json/index.js`)).createDecoder);
const cases = [];
for (const fv of [2, 1])
  for (const skip of [false, true])
    if (wanted(`v${fv}`) && (!skip || wanted('skip'))) cases.push({ fv, skip, stream: false });
if (wanted('stream')) cases.push({ fv: 2, skip: false, stream: true });
for (const { fv, skip, stream } of cases) {
  const runners = [];
  for (const [k, createDecoder] of decoders.entries()) {
    if (stream) runners.push(await streamRunner(checkouts[k], createDecoder));
    else
      runners.push(() => {
        const d = createDecoder({ formatVersion: fv, ...(skip ? { skip: (_s, t) => t === 'other' } : {}) });
        let n = 0;
        const c0 = process.cpuUsage();
        for (const m of inputs[fv]) for (const _ of d.decode(m, 1n)) n++;
        const c1 = process.cpuUsage(c0);
        return { cpu: (c1.user + c1.system) / 1e6, n };
      });
  }
  const times = checkouts.map(() => []);
  const seen = checkouts.map(() => 0);
  for (let r = 0; r < runs; r++) {
    runners.forEach((run, k) => {
      const { cpu, n } = run();
      times[k].push(cpu);
      seen[k] = n;
    });
  }
  checkouts.forEach((checkout, k) => {
    const t = times[k];
    process.stdout.write(
      `${checkout} v${fv}${skip ? ' skip other' : ''}${stream ? ' stream' : ''}: ${median(t).toFixed(3)} s CPU (min ${Math.min(...t).toFixed(3)}, max ${Math.max(...t).toFixed(3)}), ${seen[k]} events\n`,
    );
  });
}
