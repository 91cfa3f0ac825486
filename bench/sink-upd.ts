// The sink alone, in-process, on `walduck bench`'s "updates + deletes" workload: a narrow table (bigint
// key, int, text, numeric(12,2), timestamptz) holding `rows` rows in a DuckDB file, then one source
// transaction updating every row (a and t change, the identity carries the key) and one deleting every
// row, as wal2json v2 hands them to the sink. No server and no decoder: the CPU of staging, the fold,
// the UPDATE … FROM / DELETE USING statements, commits and checkpoints, without the walsender sharing
// the cores. Values are flat one-byte strings sliced from a buffer, as the decoder makes them.
// Prints one JSON line: CPU ms (this process, all threads) of the update+delete phase per repetition.
// Usage: npm run build && node dist/bench/sink-upd.js [rows] [repeats] [--gen-only|--setup-only]

import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbSink } from '../src/sink/duckdb-sink.js';
import type { SourceTable } from '../src/source/catalog.js';
import type { Change, RowImage } from '../src/wal2json/change.js';

const ROWS = Number(process.argv[2] ?? 200_000);
const REPEATS = Number(process.argv[3] ?? 3);
/** Only make the images (the share of the measured CPU that is this script's, not the sink's). */
const GEN_ONLY = process.argv.includes('--gen-only');
/** Stop before the measured phase (under callgrind: the count to subtract from a whole run's). */
const SETUP_ONLY = process.argv.includes('--setup-only');
const NUMERIC_12_2 = ((12 << 16) | 2) + 4;

const table: SourceTable = {
  schema: 'public',
  table: 'upd',
  identity: 'default',
  key: [0],
  columns: [
    { name: 'id', declared: 'bigint', type: { typname: 'int8', typmod: -1, typtype: 'b' }, notNull: true },
    { name: 'a', declared: 'integer', type: { typname: 'int4', typmod: -1, typtype: 'b' }, notNull: false },
    { name: 't', declared: 'text', type: { typname: 'text', typmod: -1, typtype: 'b' }, notNull: false },
    {
      name: 'n',
      declared: 'numeric(12,2)',
      type: { typname: 'numeric', typmod: NUMERIC_12_2, typtype: 'b' },
      notNull: false,
    },
    {
      name: 'ts',
      declared: 'timestamp with time zone',
      type: { typname: 'timestamptz', typmod: -1, typtype: 'b' },
      notNull: false,
    },
  ],
};
const names = table.columns.map((c) => c.name);
const types = table.columns.map((c) => c.declared);
const keyNames = ['id'];
const keyTypes = ['bigint'];

/** The row's texts as the source prints them (after the UPDATE when `u`). */
function texts(g: number, u: boolean): string[] {
  const ts = new Date(Date.UTC(2024, 0, 1) + g * 1000).toISOString().slice(0, 19).replace('T', ' ');
  return [
    String(g),
    String(u ? g + 1 : g),
    `text value ${g}${u ? 'u' : ''}`,
    (g * 1.25).toFixed(2),
    `${ts}+00`,
  ];
}

/**
 * Every image's texts in one latin1 buffer made before the measured phase, and each image's values
 * sliced from it when applied: fresh flat strings per value, as the decoder slices them from a payload.
 */
class Images {
  private readonly buf: Buffer;
  private readonly ends: Int32Array;
  constructor(
    private readonly per: number,
    rows: number,
    make: (g: number) => readonly string[],
    private readonly ns: string[],
    private readonly ts: string[],
  ) {
    const parts: string[] = [];
    this.ends = new Int32Array(rows * per + 1);
    let at = 0;
    let e = 1;
    for (let g = 1; g <= rows; g++)
      for (const v of make(g)) {
        parts.push(v);
        at += v.length;
        this.ends[e++] = at;
      }
    this.buf = Buffer.from(parts.join(''), 'latin1');
  }
  image(g: number): RowImage {
    const values: string[] = [];
    const base = (g - 1) * this.per;
    for (let i = 0; i < this.per; i++)
      values.push(this.buf.toString('latin1', this.ends[base + i] ?? 0, this.ends[base + i + 1] ?? 0));
    return { names: this.ns, types: this.ts, values };
  }
}

const before = new Images(names.length, ROWS, (g) => texts(g, false), names, types);
const after = new Images(names.length, ROWS, (g) => texts(g, true), names, types);
const keys = new Images(1, ROWS, (g) => [String(g)], keyNames, keyTypes);

async function once(rep: number, dir: string): Promise<{ cpuMs: number; wallMs: number }> {
  const file = join(dir, `upd-${rep}.duckdb`);
  const db = await DuckDBInstance.create(file, { threads: '1', memory_limit: '128MB' });
  const conn = await db.connect();
  const sink = await DuckDbSink.open(conn, [table], {
    slot: `s${rep}`,
    batchChanges: 100_000,
    batchMs: 1000,
    log: () => {},
    warn: () => {},
  });
  let lsn = 100n;
  let gen = false;
  const apply = async (ch: Change) => {
    if (gen) return;
    const r = sink.apply(ch);
    if (r) await r;
    if (sink.due) await sink.commit();
  };
  // The rows the replica holds before the measured range (the bench's snapshot).
  await apply({ kind: 'begin', lsn: lsn++ });
  for (let g = 1; g <= ROWS; g++)
    await apply({
      kind: 'insert',
      lsn: lsn++,
      schema: 'public',
      table: 'upd',
      new: before.image(g),
    });
  await apply({ kind: 'commit', lsn: lsn++ });
  await sink.commit();
  await conn.run('CHECKPOINT');
  if (SETUP_ONLY) {
    conn.closeSync();
    db.closeSync();
    return { cpuMs: 0, wallMs: 0 };
  }
  gen = GEN_ONLY;
  // WALDUCK_PROFILE=file.cpuprofile: a CPU profile of the measured phase alone (the last repetition's).
  const prof = process.env.WALDUCK_PROFILE ? new Session() : undefined;
  if (prof) {
    prof.connect();
    await prof.post('Profiler.enable');
    await prof.post('Profiler.start');
  }
  // WALDUCK_PERF_CTL=fifo: `perf stat|record -D -1 --control=fifo:…` counts the measured phase alone.
  const ctl = process.env.WALDUCK_PERF_CTL;
  if (ctl) writeFileSync(ctl, 'enable\n');
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  await apply({ kind: 'begin', lsn: lsn++ });
  for (let g = 1; g <= ROWS; g++)
    await apply({
      kind: 'update',
      lsn: lsn++,
      schema: 'public',
      table: 'upd',
      new: after.image(g),
      old: keys.image(g),
    });
  await apply({ kind: 'commit', lsn: lsn++ });
  await apply({ kind: 'begin', lsn: lsn++ });
  for (let g = 1; g <= ROWS; g++)
    await apply({
      kind: 'delete',
      lsn: lsn++,
      schema: 'public',
      table: 'upd',
      old: keys.image(g),
    });
  await apply({ kind: 'commit', lsn: lsn++ });
  await sink.commit();
  const t = process.cpuUsage(t0);
  const wallMs = Math.round(performance.now() - w0);
  if (ctl) writeFileSync(ctl, 'disable\n');
  if (prof) {
    const { profile } = await prof.post('Profiler.stop');
    writeFileSync(process.env.WALDUCK_PROFILE ?? '', JSON.stringify(profile));
    prof.disconnect();
  }
  const n = Number((await conn.runAndReadAll('SELECT count(*) FROM main.upd')).getRows()[0]?.[0]);
  if (n !== 0 && !GEN_ONLY) throw new Error(`expected 0 rows, found ${n}`);
  conn.closeSync();
  db.closeSync();
  return { cpuMs: Math.round((t.user + t.system) / 1000), wallMs };
}

const dir = mkdtempSync(join(tmpdir(), 'walduck-sink-upd-'));
try {
  const runs: { cpuMs: number; wallMs: number }[] = [];
  for (let r = 0; r < REPEATS; r++) runs.push(await once(r, dir));
  process.stdout.write(
    `${JSON.stringify({ rows: ROWS, cpuMs: runs.map((r) => r.cpuMs), wallMs: runs.map((r) => r.wallMs) })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
