// `walduck verify`, as a function:
//
//   1. look at the DuckDB file (read-only): its slot and stored LSN, the tables it holds; a file in use
//      (a replicate running on it) is refused here, before anything is asked of the server;
//   2. refuse if the slot is active (a replicate elsewhere following this replica);
//   3. take the consistent point: a temporary slot's exported snapshot and its LSN (point.ts);
//   4. bring the replica to exactly that LSN: replicate --endpos POINT on the file's own slot, which
//      applies every transaction ending at or before it and none after (or advances the stored LSN
//      over WAL that holds none of its tables);
//   5. per table, both sides at once: count and hash sum of the canonical row texts, computed inside
//      each database (no row leaves either); with --rows, narrow a difference down to its rows.
//
// Refusing rather than coordinating with a running replicate: a running replicate holds the DuckDB
// file's write lock for as long as it runs, and the only way to fence it at an LSN would be to stop
// it. Verify says so in one line and leaves the replicator alone.

import {
  type Connection,
  type ConnectionSettings,
  connect,
  formatLsn,
  type Lsn,
  parseConnectionString,
  parseLsn,
} from '../protocol/index.js';
import { replicate } from '../replicator/replicate.js';
import { openDuckDb } from '../sink/duckdb-file.js';
import { DuckFileError } from '../sink/errors.js';
import { quoteIdent as duckIdent, quoteLiteral as duckLiteral } from '../sink/sql.js';
import { describeTarget } from '../sink/target.js';
import type { NumericMode } from '../sink/type-map.js';
import { readSourceTables, type SourceTable } from '../source/catalog.js';
import { qualified, quoteLiteral } from '../source/quote.js';
import type { TableRef } from '../wal2json/change.js';
import { VerifyError } from './errors.js';
import { mod64, narrow, type RowDiff } from './narrow.js';
import { takeConsistentPoint } from './point.js';
import { type Tolerance, tableSql } from './table-sql.js';

export interface VerifyOptions {
  readonly source: string | undefined;
  readonly duckdb: string;
  /** Tables to compare (default: every table the replica holds). */
  readonly tables?: readonly TableRef[] | undefined;
  /** The replica's slot (default: the one slot walduck.state names). */
  readonly slot?: string | undefined;
  readonly rows: boolean;
  readonly maxDiffs: number;
  /** The replica's numeric mapping (replicate's --numeric): its catch-up and canonical forms follow it. */
  readonly numeric?: NumericMode;
  readonly log: (msg: string) => void;
  readonly warn: (msg: string) => void;
}

export interface Side {
  readonly rows: string;
  /** The sum of the rows' 64-bit hashes modulo 2^64, as 16 hex digits. */
  readonly hash: string;
}

export interface TableReport {
  readonly schema: string;
  readonly table: string;
  readonly equal: boolean;
  readonly source: Side;
  readonly replica: Side;
  readonly tolerances: readonly Tolerance[];
  readonly seconds: number;
  readonly diffs?: readonly RowDiff[];
  readonly diffsTruncated?: boolean;
}

export interface VerifyReport {
  readonly equal: boolean;
  readonly slot: string;
  /** The consistent point both sides were compared at. */
  readonly lsn: string;
  /** The LSN walduck.state held before verify brought the replica to the point, and after. */
  readonly replicaLsnBefore: string;
  readonly replicaLsn: string;
  readonly catchUp: { readonly changes: number; readonly transactions: number; readonly seconds: number };
  readonly tables: readonly TableReport[];
  readonly seconds: number;
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = performance.now();
  const settings = parseConnectionString(o.source, process.env);
  const file = await inspectFile(o.duckdb, o.slot);
  const chosen = o.tables && o.tables.length > 0 ? o.tables : file.tables;
  const missing = chosen.filter(
    (t) => !file.tables.some((f) => f.schema === t.schema && f.table === t.table),
  );
  if (missing.length > 0) {
    throw new VerifyError(
      'config',
      'WALDUCK_VERIFY_UNKNOWN_TABLE',
      `table ${missing.map((t) => `${t.schema}.${t.table}`).join(', ')} is not in the replica ${o.duckdb} (it holds ${file.tables.map((t) => `${t.schema}.${t.table}`).join(', ') || 'no table'})`,
    );
  }
  await refuseActiveSlot(settings, file.slot, o.log);

  const point = await takeConsistentPoint(settings, { log: o.log });
  const reader = point.reader;
  try {
    const pgQuery = async (sql: string) => (await reader.query(sql))[0]?.rows ?? [];
    // Under the snapshot: the columns as they were at the point.
    const sources = await readSourceTables(pgQuery, chosen, o.warn);
    if (file.lsn > point.lsn) {
      throw new VerifyError(
        'catch-up',
        'WALDUCK_VERIFY_AHEAD',
        `the replica holds changes up to ${formatLsn(file.lsn)}, past the consistent point ${formatLsn(point.lsn)} just taken: something replicated into it meanwhile; run verify again`,
      );
    }
    const c0 = performance.now();
    const caught = await catchUp(o, file.slot, file.tables, point.lsn);
    const catchUp_ = {
      changes: caught.changes,
      transactions: caught.transactions,
      seconds: (performance.now() - c0) / 1000,
    };
    o.log(
      `replica brought from ${formatLsn(file.lsn)} to ${formatLsn(caught.applied)} (point ${formatLsn(point.lsn)})`,
    );
    const tables = await compareTables(o, reader, sources, file.slot, point.lsn, caught.applied);
    return {
      equal: tables.every((t) => t.equal),
      slot: file.slot,
      lsn: formatLsn(point.lsn),
      replicaLsnBefore: formatLsn(file.lsn),
      replicaLsn: formatLsn(caught.applied),
      catchUp: catchUp_,
      tables,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await reader.close().catch(() => {});
  }
}

interface FileInfo {
  readonly slot: string;
  readonly lsn: Lsn;
  readonly tables: readonly TableRef[];
}

type DuckInstance = Awaited<ReturnType<typeof openDuckDb>>;
type DuckConnection = Awaited<ReturnType<DuckInstance['connect']>>;

async function openDuck(file: string): Promise<{ instance: DuckInstance; conn: DuckConnection }> {
  let instance: DuckInstance;
  try {
    instance = await openDuckDb(file, { readOnly: true });
  } catch (err) {
    const text = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    if (err instanceof DuckFileError && err.code === 'WALDUCK_DUCKDB_LOCKED') {
      const pid = /PID (\d+)/.exec(text)?.[1];
      throw new VerifyError(
        'duckdb',
        'WALDUCK_VERIFY_IN_USE',
        `DuckDB file ${file} is in use by another process${pid ? ` (PID ${pid})` : ''}, a running walduck replicate? verify brings the replica to its consistent point itself and needs the file alone: stop the replicator (SIGTERM), verify, then start it again`,
        { cause: err },
      );
    }
    throw err;
  }
  const conn = await instance.connect();
  return { instance, conn };
}

async function duckRows(conn: DuckConnection, sql: string): Promise<(string | null)[][]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRows().map((row) => row.map((v) => (v === null || v === undefined ? null : String(v))));
}

async function inspectFile(file: string, slot: string | undefined): Promise<FileInfo> {
  const { existsSync } = await import('node:fs');
  if (!existsSync(file))
    throw new VerifyError('config', 'WALDUCK_VERIFY_NO_FILE', `DuckDB file ${file} does not exist`);
  const { instance, conn } = await openDuck(file);
  try {
    const has = await duckRows(
      conn,
      "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'walduck' AND table_name = 'state'",
    );
    if (has[0]?.[0] === '0')
      throw new VerifyError(
        'duckdb',
        'WALDUCK_VERIFY_NOT_REPLICA',
        `${file} has no walduck.state table: it is not a walduck replica`,
      );
    const catalog = (await duckRows(conn, 'SELECT current_database()'))[0]?.[0] ?? '';
    const states = await duckRows(
      conn,
      `SELECT slot, lsn FROM ${duckIdent(catalog)}.walduck.state ORDER BY slot`,
    );
    const row = slot === undefined ? states[0] : states.find((s) => s[0] === slot);
    if (!row || (slot === undefined && states.length > 1)) {
      throw new VerifyError(
        'config',
        'WALDUCK_VERIFY_SLOT',
        states.length === 0
          ? `${file} records no replication yet (walduck.state is empty): nothing to verify`
          : slot === undefined
            ? `${file} holds replicas of several slots (${states.map((s) => s[0]).join(', ')}): name one with --slot`
            : `${file} holds no replica of slot ${slot} (it has ${states.map((s) => s[0]).join(', ')})`,
      );
    }
    const lsn = parseLsn(row[1] ?? '');
    if (lsn === undefined)
      throw new VerifyError(
        'duckdb',
        'WALDUCK_VERIFY_STATE',
        `${file}: walduck.state holds an unreadable LSN ${row[1]}`,
      );
    const tables = await duckRows(
      conn,
      `SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' AND table_schema <> 'walduck'
        ORDER BY 1, 2`,
    );
    return {
      slot: row[0] ?? '',
      lsn,
      tables: tables.map((r) => ({ schema: r[0] === 'main' ? 'public' : (r[0] ?? ''), table: r[1] ?? '' })),
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function refuseActiveSlot(
  settings: ConnectionSettings,
  slot: string,
  log: (m: string) => void,
): Promise<void> {
  const c = await connect(settings, { replication: false, log });
  try {
    const r = await c.query(
      `SELECT active_pid FROM pg_replication_slots WHERE slot_name = ${quoteLiteral(slot)}`,
    );
    const row = r[0]?.rows[0];
    if (!row) {
      throw new VerifyError(
        'preflight',
        'WALDUCK_VERIFY_SLOT_GONE',
        `replication slot ${slot} of this replica does not exist on the source: the replica cannot be brought to a point (changes since its LSN may be lost)`,
      );
    }
    if (row[0] !== null) {
      throw new VerifyError(
        'preflight',
        'WALDUCK_VERIFY_SLOT_ACTIVE',
        `replication slot ${slot} is in use by server process ${row[0]}, a running walduck replicate? verify brings the replica to its consistent point itself: stop the replicator (SIGTERM), verify, then start it again`,
      );
    }
  } finally {
    await c.close().catch(() => {});
  }
}

async function catchUp(o: VerifyOptions, slot: string, tables: readonly TableRef[], point: Lsn) {
  // Every table the replica holds, not only the compared ones: the slot's position is shared, so
  // following fewer tables would advance it past changes of the others.
  try {
    const r = await replicate({
      source: o.source,
      duckdb: o.duckdb,
      tables,
      slot,
      formatVersion: 2,
      writeInChunks: true,
      batchChanges: 100_000,
      batchMs: 1000,
      stopAt: { kind: 'endpos', lsn: point },
      snapshot: 'off',
      ...(o.numeric ? { numeric: o.numeric } : {}),
      log: o.log,
      warn: o.warn,
    });
    if (r.applied > point) {
      throw new VerifyError(
        'catch-up',
        'WALDUCK_VERIFY_OVERSHOOT',
        `the replica went to ${formatLsn(r.applied)}, past the consistent point ${formatLsn(point)}`,
      );
    }
    return r;
  } catch (err) {
    if (err instanceof VerifyError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new VerifyError(
      'catch-up',
      'WALDUCK_VERIFY_CATCH_UP',
      `bringing the replica to ${formatLsn(point)}: ${msg}`,
      {
        cause: err,
      },
    );
  }
}

async function compareTables(
  o: VerifyOptions,
  reader: Connection,
  sources: readonly SourceTable[],
  slot: string,
  point: Lsn,
  applied: Lsn,
): Promise<TableReport[]> {
  const { instance, conn } = await openDuck(o.duckdb);
  try {
    // The file was closed between catch-up and here: make sure nobody moved it meanwhile.
    // Qualified with the attached database: a file named walduck.duckdb would make walduck.state ambiguous.
    const catalog = (await duckRows(conn, 'SELECT current_database()'))[0]?.[0] ?? '';
    const now = await duckRows(
      conn,
      `SELECT lsn FROM ${duckIdent(catalog)}.walduck.state WHERE slot = ${duckLiteral(slot)}`,
    );
    const lsn = parseLsn(now[0]?.[0] ?? '');
    if (lsn !== applied) {
      throw new VerifyError(
        'duckdb',
        'WALDUCK_VERIFY_MOVED',
        `the replica moved to ${now[0]?.[0] ?? 'nothing'} after verify brought it to ${formatLsn(applied)} (point ${formatLsn(point)}): another process wrote to it; run verify again`,
      );
    }
    await conn.run("SET TimeZone = 'UTC'");
    const q = {
      pg: async (sql: string) => (await reader.query(sql))[0]?.rows ?? [],
      duck: (sql: string) => duckRows(conn, sql),
    };
    const reports: TableReport[] = [];
    for (const t of sources) {
      const s0 = performance.now();
      const sql = tableSql(t, describeTarget(t, catalog).name, qualified(t.schema, t.table), o.numeric);
      let a: readonly (readonly (string | null)[])[];
      let b: readonly (readonly (string | null)[])[];
      try {
        [a, b] = await Promise.all([q.pg(sql.total('pg')), q.duck(sql.total('duck'))]);
      } catch (err) {
        const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
        throw new VerifyError('compare', 'WALDUCK_VERIFY_QUERY', `${t.schema}.${t.table}: ${msg}`, {
          cause: err,
        });
      }
      const side = (r: readonly (string | null)[] | undefined): Side => ({
        rows: r?.[0] ?? '0',
        hash: mod64(r?.[1]).toString(16).padStart(16, '0'),
      });
      const source = side(a[0]);
      const replica = side(b[0]);
      const equal = source.rows === replica.rows && source.hash === replica.hash;
      let extra: Pick<TableReport, 'diffs' | 'diffsTruncated'> = {};
      if (!equal && o.rows) {
        const n = await narrow(t, sql, q, o.maxDiffs);
        extra = { diffs: n.diffs, diffsTruncated: n.truncated };
      }
      reports.push({
        schema: t.schema,
        table: t.table,
        equal,
        source,
        replica,
        tolerances: sql.tolerances,
        seconds: (performance.now() - s0) / 1000,
        ...extra,
      });
    }
    return reports;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
