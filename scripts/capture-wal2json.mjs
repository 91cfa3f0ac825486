// Regenerates test/fixtures/wal2json/*.jsonl: real wal2json 2.5 output with the XLogData LSNs the
// walsender sent it at. A throwaway cluster runs test/fixtures/wal2json/workload.sql; then, for each
// format, this script streams the slot over the replication protocol itself (a bare client below:
// StartupMessage with replication=database, START_REPLICATION, CopyData 'w' frames), so the recorded
// LSN is each XLogData's dataStart — the value the decoder is given in production. It stops at a
// non-transactional end-marker message and never acknowledges, so the slots are not consumed.
//
// Usage: npm run build && node scripts/capture-wal2json.mjs
// Dev script: it may use psql and the cluster harness (dist/src/cluster/throwaway.js).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const { startCluster, stopCluster, psql } = await import(join(root, 'dist/src/cluster/throwaway.js'));
const fixtures = join(root, 'test/fixtures/wal2json');
const END_MARKER = 'walduck-capture-end';

const common = {
  'include-xids': '1',
  'include-timestamp': '1',
  'include-lsn': '1',
  'include-types': '1',
  'include-typmod': '1',
  'include-type-oids': '1',
  'include-pk': '1',
};
const captures = [
  {
    file: 'v2.jsonl',
    slot: 'fx_v2',
    options: { 'format-version': '2', 'include-transaction': '1', ...common },
  },
  { file: 'v1.jsonl', slot: 'fx_v1', options: { 'format-version': '1', ...common } },
  {
    file: 'v1-chunks.jsonl',
    slot: 'fx_v1_chunks',
    options: { 'format-version': '1', 'write-in-chunks': '1', ...common },
  },
];

/** Streams `slot` and returns [{ lsn, data }] for every XLogData until the end marker. */
function stream(info, slot, options) {
  return new Promise((resolve, reject) => {
    const sock = connect(join(info.socketDir, `.s.PGSQL.${info.port}`));
    const got = [];
    let buf = Buffer.alloc(0);
    const fail = (err) => {
      sock.destroy();
      reject(err);
    };
    sock.on('error', fail);
    sock.on('connect', () => {
      const params = ['user', 'postgres', 'database', info.database, 'replication', 'database'];
      const body = Buffer.concat([...params.map((p) => Buffer.from(`${p}\0`)), Buffer.from([0])]);
      const head = Buffer.alloc(8);
      head.writeInt32BE(8 + body.length, 0);
      head.writeInt32BE(196608, 4); // protocol 3.0
      sock.write(Buffer.concat([head, body]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) break;
        const type = String.fromCharCode(buf[0]);
        const msg = buf.subarray(5, 1 + len);
        buf = buf.subarray(1 + len);
        if (type === 'E') return fail(new Error(`server error: ${msg.toString('utf8').replace(/\0/g, ' ')}`));
        if (type === 'R' && msg.readInt32BE(0) !== 0)
          return fail(new Error('auth other than trust requested'));
        if (type === 'Z') {
          const opts = Object.entries(options)
            .map(([k, v]) => `"${k}" '${v}'`)
            .join(', ');
          const q = Buffer.from(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (${opts})\0`);
          const h = Buffer.alloc(5);
          h.write('Q');
          h.writeInt32BE(4 + q.length, 1);
          sock.write(Buffer.concat([h, q]));
        }
        if (type === 'd' && msg[0] === 0x77 /* 'w' XLogData */) {
          // w, dataStart int64, walEnd int64, sendTime int64, payload
          const lsn = msg.readBigUInt64BE(1);
          const data = Buffer.from(msg.subarray(25));
          got.push({ lsn, data });
          if (data.includes(END_MARKER)) {
            sock.destroy();
            return resolve(got);
          }
        }
      }
    });
  });
}

function fmt(lsn) {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

const info = await startCluster();
try {
  for (const c of captures) psql(info, `SELECT pg_create_logical_replication_slot('${c.slot}', 'wal2json')`);
  // psql -f, not -c: one transaction per statement, as an application would run them.
  execFileSync(
    'psql',
    [
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
      '-f',
      join(fixtures, 'workload.sql'),
    ],
    { input: '', stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, PGDATABASE: info.database } },
  );
  psql(info, `SELECT pg_logical_emit_message(false, '${END_MARKER}', '')`);
  const version = psql(info, 'SHOW server_version');
  for (const c of captures) {
    const msgs = await stream(info, c.slot, c.options);
    const lines = msgs.map(({ lsn, data }) => {
      const text = data.toString('utf8');
      // Text when the bytes are UTF-8 (they always are from a UTF8 database); base64 otherwise.
      return JSON.stringify(
        Buffer.from(text, 'utf8').equals(data)
          ? { lsn: fmt(lsn), text }
          : { lsn: fmt(lsn), base64: data.toString('base64') },
      );
    });
    writeFileSync(join(fixtures, c.file), `${lines.join('\n')}\n`);
    process.stdout.write(`${c.file}: ${msgs.length} messages\n`);
  }
  writeFileSync(
    join(fixtures, 'capture.json'),
    `${JSON.stringify(
      {
        server: version,
        plugin: 'wal2json 2.5 (Debian postgresql-15-wal2json)',
        endMarker: END_MARKER,
        files: Object.fromEntries(captures.map((c) => [c.file, c.options])),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  stopCluster(info);
}
