// The sink alone, in-process, on rows shaped like `walduck bench`'s 50-column workload (bigint key,
// then int, text, numeric(12,2), timestamptz, boolean in turn): no server, no decoder, so the CPU of
// staging and appending is measured without the walsender sharing the cores. Values are made as the
// decoder makes them (flat one-byte strings sliced from a buffer). Prints one JSON line: CPU ms of
// the apply+commit loop for each repetition.
// Usage: npm run build && node dist/bench/sink-wide.js [rows] [repeats] [--updates]

import { Buffer } from 'node:buffer';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbSink } from '../src/sink/duckdb-sink.js';
import type { SourceTable } from '../src/source/catalog.js';
import type { Change, RowImage } from '../src/wal2json/change.js';

const ROWS = Number(process.argv[2] ?? 100_000);
const REPEATS = Number(process.argv[3] ?? 3);
const UPDATES = process.argv.includes('--updates');
/** Only make the rows (the share of the measured CPU that is this script's, not the sink's). */
const GEN_ONLY = process.argv.includes('--gen-only');
const KINDS = [
  ['int4', 'integer'],
  ['text', 'text'],
  ['numeric', 'numeric(12,2)'],
  ['timestamptz', 'timestamp with time zone'],
  ['bool', 'boolean'],
] as const;
const NUMERIC_12_2 = ((12 << 16) | 2) + 4;

const table: SourceTable = {
  schema: 'public',
  table: 'wide',
  identity: 'default',
  key: [0],
  columns: [
    { name: 'id', declared: 'bigint', type: { typname: 'int8', typmod: -1, typtype: 'b' }, notNull: true },
    ...Array.from({ length: 49 }, (_, i) => {
      const [typname, declared] = KINDS[i % 5] ?? KINDS[0];
      return {
        name: `c${i}`,
        declared,
        type: { typname, typmod: typname === 'numeric' ? NUMERIC_12_2 : -1, typtype: 'b' },
        notNull: false,
      };
    }),
  ],
};
const names = table.columns.map((c) => c.name);
const types = table.columns.map((c) => c.declared);

function value(i: number, g: number): string {
  if (i === 0) return String(g);
  const c = i - 1;
  switch (c % 5) {
    case 0:
      return String(g + c);
    case 1:
      return `w${g}`;
    case 2:
      return (g * 0.25).toFixed(2);
    case 3:
      return `${new Date(Date.UTC(2024, 0, 1) + g * 60_000).toISOString().slice(0, 19).replace('T', ' ')}+00`;
    default:
      return g % 2 === 0 ? 'true' : 'false';
  }
}

/**
 * A row's values as the decoder hands them: strings sliced from a latin1 buffer (flat, one-byte), a
 * fresh string per value. The texts of 4096 rows are made once and cycled (the key is always new).
 */
const TEMPLATES = 4096;
const templates = Array.from({ length: TEMPLATES }, (_, t) => {
  const texts = names.map((_, i) => value(i, t + 1));
  const ends: number[] = [];
  let at = 0;
  for (const x of texts) {
    at += x.length;
    ends.push(at);
  }
  ends.unshift(0);
  return { buf: Buffer.from(texts.join(''), 'latin1'), ends };
});

function row(g: number): RowImage {
  const { buf, ends } = templates[g % TEMPLATES] ?? templates[0]!;
  const values: string[] = [String(g)];
  for (let i = 2; i < ends.length; i++) values.push(buf.toString('latin1', ends[i - 1] ?? 0, ends[i] ?? 0));
  return { names, types, values };
}

async function once(rep: number): Promise<number> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const sink = await DuckDbSink.open(conn, [table], {
    slot: `s${rep}`,
    batchChanges: 100_000,
    batchMs: 1e9,
    log: () => {},
    warn: () => {},
  });
  let lsn = 100n;
  const t0 = process.cpuUsage();
  const apply = async (ch: Change) => {
    if (GEN_ONLY) return;
    const r = sink.apply(ch);
    if (r) await r;
    if (sink.due) await sink.commit();
  };
  await apply({ kind: 'begin', lsn: lsn++ });
  for (let g = 1; g <= ROWS; g++)
    await apply({ kind: 'insert', lsn: lsn++, schema: 'public', table: 'wide', new: row(g) });
  if (UPDATES) {
    for (let g = 1; g <= ROWS; g++)
      await apply({ kind: 'update', lsn: lsn++, schema: 'public', table: 'wide', new: row(g) });
  }
  await apply({ kind: 'commit', lsn: lsn++ });
  await sink.commit();
  const t = process.cpuUsage(t0);
  const n = Number((await conn.runAndReadAll('SELECT count(*) FROM main.wide')).getRows()[0]?.[0]);
  if (n !== ROWS && !GEN_ONLY) throw new Error(`expected ${ROWS} rows, found ${n}`);
  conn.closeSync();
  db.closeSync();
  return Math.round((t.user + t.system) / 1000);
}

const ms: number[] = [];
for (let r = 0; r < REPEATS; r++) ms.push(await once(r));
process.stdout.write(`${JSON.stringify({ rows: ROWS, updates: UPDATES, cpuMs: ms })}\n`);
