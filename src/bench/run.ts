// `walduck bench`: replication throughput over the same WAL range for every contender, in one run.
//
// Per workload and format, and per repetition: fresh slots for every contender are created BEFORE
// the workload (so all read the same bytes), the workload runs, a CHECKPOINT settles the server, then
// the contenders run one after another to --endpos, in an order rotated each repetition (so no one
// always gets the warm cache). All get exactly the same wal2json options (wal2jsonOptions).
//   1. pg_recvlogical -f /dev/null   the server's decode limit, the reference
//   2. walduck stream -f /dev/null   protocol and framing
//   3. decode only                   + wal2json parsing, no sink
//   4. walduck replicate             + DuckDB, committed and acknowledged: the product
//   4'. replicate-alt                replicate again with --alt-args added (e.g. a setting to compare):
//                                    both read the same WAL range in the same run
//   5. pg-logical-replication        the Node peer (a devDependency, format v2 only): its wal2json
//                                    consumer with library defaults, writing nothing; skipped, with a
//                                    line saying so, where the package is not installed

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterInfo, conninfo, startCluster, stopCluster } from '../cluster/throwaway.js';
import { connect, parseConnectionString } from '../protocol/index.js';
import { wal2jsonOptions } from '../wal2json/index.js';
import { BenchError } from './errors.js';
import { type LatencyResult, runLatency } from './latency.js';
import { type Measured, measure } from './measure.js';
import { binPath, decodeOnlyPath, peerScriptPath } from './paths.js';
import { passwordToEnv } from './secret.js';
import { SCHEMA, type Workload, workloads } from './workloads.js';

export type Format = 'v2' | 'v1' | 'v1-chunks';
export type Contender =
  | 'pg_recvlogical'
  | 'stream'
  | 'decode'
  | 'replicate'
  | 'replicate-alt'
  | 'pg-logical-replication';
export const PEER = 'pg-logical-replication';

export interface BenchOptions {
  readonly source?: string | undefined;
  readonly rows: number;
  readonly repeat: number;
  readonly formats: readonly Format[];
  readonly workloads?: readonly number[] | undefined;
  readonly contenders: readonly Contender[];
  /** replicate-alt's arguments added to replicate's. */
  readonly altArgs?: readonly string[] | undefined;
  readonly log: (line: string) => void;
  /** Latency mode instead of throughput: a steady writer at this many rows/s. */
  readonly latency?:
    | { readonly rate: number; readonly seconds: number; readonly replicateArgs: readonly string[] }
    | undefined;
}

export interface Cell {
  readonly workload: string;
  readonly format: Format;
  readonly changes: number;
  readonly payloadBytes: number;
  readonly runs: Readonly<Record<Contender, Run[]>>;
}

/** A measured run, with the changes the contender saw where it reports them (decode only, the peer). */
export interface Run extends Measured {
  readonly changes?: number;
}

/** Whether the peer can run here: its script is built and its package installed (a devDependency). */
export function peerAvailable(): boolean {
  return (
    existsSync(peerScriptPath()) &&
    spawnSync(process.execPath, [peerScriptPath(), '--probe'], { stdio: 'ignore' }).status === 0
  );
}

export async function runBench(o: BenchOptions): Promise<Cell[] | LatencyResult> {
  const cluster: ClusterInfo | undefined = o.source === undefined ? await startCluster() : undefined;
  const source = o.source ?? conninfo(cluster as ClusterInfo, 'superuser', {});
  const admin = await connect(parseConnectionString(source, process.env), { replication: false });
  // Children see the connection string without its password; the password goes in their environment.
  const { source: childSource, env } = passwordToEnv(source, process.env);
  const sql = async (text: string) => (await admin.query(text))[0]?.rows ?? [];
  const dir = mkdtempSync(join(tmpdir(), 'walduck-bench-'));
  const created: string[] = [];
  const cells: Cell[] = [];
  try {
    const exists = await sql(`SELECT 1 FROM pg_namespace WHERE nspname = '${SCHEMA}'`);
    if (exists.length > 0)
      throw new BenchError(
        `schema ${SCHEMA} already exists on the source: the bench creates and drops it; drop it first`,
      );
    await sql(`CREATE SCHEMA ${SCHEMA}`);
    if (o.latency)
      return await runLatency(
        admin,
        childSource,
        env,
        dir,
        o.latency.rate,
        o.latency.seconds,
        o.latency.replicateArgs,
      );
    let contenders = o.contenders;
    if (contenders.includes(PEER)) {
      if (!peerAvailable()) {
        o.log(`${PEER} is not installed (a devDependency): that contender is skipped`);
        contenders = contenders.filter((c) => c !== PEER);
      } else if (o.formats.some((f) => f !== 'v2'))
        o.log(`${PEER} runs in format v2 only (its wal2json consumer parses one JSON document per message)`);
    }
    const all = workloads(o.rows);
    const chosen = o.workloads
      ? o.workloads.map((i) => all[i - 1]).filter((w): w is Workload => w !== undefined)
      : all;
    for (const w of chosen) {
      for (const format of o.formats) {
        const cell: Cell = {
          workload: w.name,
          format,
          changes: w.changes,
          payloadBytes: 0,
          runs: {
            pg_recvlogical: [],
            stream: [],
            decode: [],
            replicate: [],
            'replicate-alt': [],
            [PEER]: [],
          },
        };
        const these = contenders.filter((c) => c !== PEER || format === 'v2');
        for (let rep = 0; rep < o.repeat; rep++) {
          const bytes = await oneRepetition(
            these,
            w,
            format,
            rep,
            childSource,
            env,
            sql,
            dir,
            created,
            cell,
            o.altArgs ?? [],
          );
          (cell as { payloadBytes: number }).payloadBytes = bytes;
        }
        cells.push(cell);
        o.log(`done: ${w.name}, ${format}`);
      }
    }
  } finally {
    for (const slot of created)
      await sql(
        `SELECT pg_drop_replication_slot('${slot}') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}')`,
      ).catch(() => {});
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => {});
    await admin.close();
    if (cluster) stopCluster(cluster);
    rmSync(dir, { recursive: true, force: true });
  }
  return cells;
}

async function oneRepetition(
  contenders: readonly Contender[],
  w: Workload,
  format: Format,
  rep: number,
  source: string,
  env: NodeJS.ProcessEnv,
  sql: (text: string) => Promise<readonly (readonly (string | null)[])[]>,
  dir: string,
  created: string[],
  cell: Cell,
  altArgs: readonly string[],
): Promise<number> {
  await sql(`DROP TABLE IF EXISTS ${SCHEMA}.${w.table}; ${w.ddl}`);
  if (w.prepare) await sql(w.prepare);
  const fv = format === 'v2' ? 2 : 1;
  const options = wal2jsonOptions({
    formatVersion: fv,
    tables: [{ schema: SCHEMA, table: w.table }],
    ...(format === 'v1-chunks' ? { writeInChunks: true } : {}),
  });
  const dashO = options.flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  const slot = (c: Contender) => `walduck_bench_${c.replace(/[^a-z0-9_]/g, '_')}`;
  // replicate and replicate-alt: each its own DuckDB file and slot.
  const replicateArgs = (c: Contender) => {
    const duck = join(dir, `bench-${rep}-${c}.duckdb`);
    rmSync(duck, { force: true });
    return [
      binPath(),
      'replicate',
      '--source',
      source,
      '--duckdb',
      duck,
      '--tables',
      `${SCHEMA}.${w.table}`,
      '--slot',
      slot(c),
      '--format-version',
      String(fv),
      ...(format === 'v1' ? ['--no-write-in-chunks'] : []),
      ...(c === 'replicate-alt' ? altArgs : []),
    ];
  };
  const replicates = new Map<Contender, string[]>(
    contenders.filter((c) => c === 'replicate' || c === 'replicate-alt').map((c) => [c, replicateArgs(c)]),
  );
  // Every slot exists before the workload: all contenders read the same WAL range.
  for (const c of contenders) {
    const args = replicates.get(c);
    if (args) {
      const init = spawnSync(process.execPath, [...args, '--until-caught-up'], {
        env,
        encoding: 'utf8',
      });
      if (init.status !== 0) throw new BenchError(`walduck replicate (setup) failed: ${init.stderr.trim()}`);
    } else await sql(`SELECT pg_create_logical_replication_slot('${slot(c)}', 'wal2json')`);
    created.push(slot(c));
  }
  for (const s of w.statements()) await sql(s);
  const endpos = (await sql('SELECT pg_current_wal_lsn()'))[0]?.[0] ?? '';
  await sql('CHECKPOINT');
  let bytes = 0;
  const order = rotate(contenders, rep);
  for (const c of order) {
    const walsender = async () => {
      const r = await sql(
        `SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot(c)}' AND active_pid IS NOT NULL`,
      );
      return r[0]?.[0] ? Number(r[0][0]) : undefined;
    };
    const cmd: [string, string[]] =
      c === 'pg_recvlogical'
        ? [
            'pg_recvlogical',
            ['-d', source, '-S', slot(c), '--start', '--endpos', endpos, '-f', '/dev/null', ...dashO],
          ]
        : c === 'stream'
          ? [
              process.execPath,
              [
                binPath(),
                'stream',
                '-d',
                source,
                '-S',
                slot(c),
                '--endpos',
                endpos,
                '-f',
                '/dev/null',
                ...dashO,
              ],
            ]
          : c === 'decode'
            ? [
                process.execPath,
                [
                  decodeOnlyPath(),
                  source,
                  slot(c),
                  endpos,
                  String(fv),
                  ...(format === 'v1-chunks' ? ['chunks'] : []),
                ],
              ]
            : c === PEER
              ? [process.execPath, [peerScriptPath(), source, slot(c), endpos, JSON.stringify(options)]]
              : [process.execPath, [...(replicates.get(c) ?? []), '--endpos', endpos]];
    const m = await measure(cmd[0], cmd[1], env, walsender);
    const said =
      c === 'decode' || c === PEER ? (JSON.parse(m.stdout) as { bytes?: number; changes?: number }) : {};
    // A peer that stopped early would look fast: its count must be the workload's.
    if (c === PEER && said.changes !== w.changes)
      throw new BenchError(`${PEER} saw ${said.changes} changes, the workload made ${w.changes}`);
    cell.runs[c].push(c === PEER && said.changes !== undefined ? { ...m, changes: said.changes } : m);
    if (c === 'decode') bytes = Number(said.bytes ?? 0);
  }
  for (const c of contenders) {
    await sql(`SELECT pg_drop_replication_slot('${slot(c)}')`);
    created.splice(created.indexOf(slot(c)), 1);
  }
  return bytes;
}

function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}
