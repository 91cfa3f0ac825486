// Decoder throughput against JSON.parse of the same bytes, in the same run (JSON.parse is lossy for
// int8/numeric: it is only the speed reference). Workload: rows shaped like a typical OLTP table
// (int, bigint, numeric, text, timestamptz, bool, a NULL, a string with escapes), as wal2json 2.5
// prints them with include-xids/timestamp/lsn/types/type-oids/pk.
//
// Cases: v2 one line per XLogData; v1 one whole-transaction document; v1 write-in-chunks (one message
// per change, as wal2json cuts them); v1 cut every 64 KiB (changes straddle messages).
// Usage: npm run build && node dist/bench/wal2json.js [rows]   (prints a table, then one JSON line)

import { Buffer } from 'node:buffer';
import { createDecoder } from '../src/wal2json/decoder.js';

const ROWS = Number(process.argv[2] ?? 20_000);
const enc = new TextEncoder();

function columns(i: number): Array<[string, string, number, string]> {
  return [
    ['id', 'bigint', 20, String(9_007_199_254_740_000 + i)],
    ['account_id', 'integer', 23, String(i % 977)],
    ['amount', 'numeric(20,4)', 1700, `${(i * 37) % 100_000}.${String(i % 10_000).padStart(4, '0')}`],
    ['currency', 'character(3)', 1042, JSON.stringify('EUR')],
    ['note', 'text', 25, JSON.stringify(`payment ${i} for "order" #${i * 7} — ok\\n`)],
    ['created_at', 'timestamp with time zone', 1184, JSON.stringify('2026-11-23 19:40:39.943981+00')],
    ['settled', 'boolean', 16, i % 3 === 0 ? 'true' : 'false'],
    ['ref', 'uuid', 2950, JSON.stringify('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')],
    ['rate', 'double precision', 701, '0.1000000000000000055'],
    ['deleted_at', 'timestamp with time zone', 1184, 'null'],
  ];
}

function v2Line(i: number): string {
  const cols = columns(i)
    .map(([n, t, o, v]) => `{"name":"${n}","type":"${t}","typeoid":${o},"value":${v}}`)
    .join(',');
  return `{"action":"I","xid":${1000 + i},"timestamp":"2026-11-23 19:40:39.943981+00","lsn":"0/${(0x1937208 + i * 200).toString(16).toUpperCase()}","schema":"public","table":"payments","columns":[${cols}],"pk":[{"name":"id","type":"bigint","typeoid":20}]}`;
}

function v1Change(i: number): string {
  const cs = columns(i);
  return `{"kind":"insert","schema":"public","table":"payments","columnnames":[${cs.map((c) => `"${c[0]}"`).join(',')}],"columntypes":[${cs.map((c) => `"${c[1]}"`).join(',')}],"columntypeoids":[${cs.map((c) => c[2]).join(',')}],"columnvalues":[${cs.map((c) => c[3]).join(',')}],"pk":{"pknames":["id"],"pktypes":["bigint"]}}`;
}

const v2Lines = Array.from({ length: ROWS }, (_, i) => Buffer.from(enc.encode(v2Line(i))));
const header = '{"xid":1000,"nextlsn":"0/9000000","timestamp":"2026-11-23 19:40:39.943981+00","change":[';
const v1Changes = Array.from({ length: ROWS }, (_, i) => v1Change(i));
const v1Doc = Buffer.from(enc.encode(`${header}${v1Changes.join(',')}]}`));
const v1Chunks = [header, ...v1Changes.map((c, i) => (i === 0 ? c : `,${c}`)), ']}'].map((s) =>
  Buffer.from(enc.encode(s)),
);
const v1Cut: Buffer[] = [];
for (let off = 0; off < v1Doc.length; off += 64 * 1024) v1Cut.push(v1Doc.subarray(off, off + 64 * 1024));

const bytesOf = (bs: readonly Uint8Array[]) => bs.reduce((n, b) => n + b.length, 0);

/** Best of `rounds` timed runs (ms) after a warm-up. */
function time(fn: () => number, rounds = 7): { ms: number; count: number } {
  let count = fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    count = fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: best, count };
}

function jsonParse(bs: readonly Buffer[]): number {
  let n = 0;
  for (const b of bs) {
    const o = JSON.parse(b.toString('utf8')) as { columns?: unknown[]; change?: unknown[] };
    n += o.change?.length ?? 1;
  }
  return n;
}

function decodeWith(version: 1 | 2, bs: readonly Buffer[]): number {
  const d = createDecoder({ formatVersion: version });
  let n = 0;
  let lsn = 0x1000n;
  for (const b of bs) {
    for (const c of d.decode(b, lsn)) if (c.kind === 'insert') n++;
    lsn += 100n;
  }
  return n;
}

interface Result {
  case: string;
  mb: number;
  ms: number;
  mbPerS: number;
  changesPerS: number;
  jsonParseMbPerS: number;
  ratio: number;
}

const results: Result[] = [];
function run(name: string, version: 1 | 2, bs: readonly Buffer[], reference: readonly Buffer[]): void {
  const mb = bytesOf(bs) / 1e6;
  const ref = time(() => jsonParse(reference));
  const dec = time(() => decodeWith(version, bs));
  if (dec.count !== ROWS) throw new Error(`${name}: decoded ${dec.count} changes, expected ${ROWS}`);
  const refMbPerS = bytesOf(reference) / 1e6 / (ref.ms / 1e3);
  const mbPerS = mb / (dec.ms / 1e3);
  results.push({
    case: name,
    mb: round(mb),
    ms: round(dec.ms),
    mbPerS: round(mbPerS),
    changesPerS: Math.round(ROWS / (dec.ms / 1e3)),
    jsonParseMbPerS: round(refMbPerS),
    ratio: round(mbPerS / refMbPerS),
  });
}

const round = (x: number) => Math.round(x * 100) / 100;

run('v2 lines', 2, v2Lines, v2Lines);
run('v1 whole document', 1, [v1Doc], [v1Doc]);
run('v1 write-in-chunks', 1, v1Chunks, [v1Doc]);
run('v1 cut every 64 KiB', 1, v1Cut, [v1Doc]);

console.table(results);
console.log(JSON.stringify({ bench: 'wal2json', rows: ROWS, node: process.version, results }));
