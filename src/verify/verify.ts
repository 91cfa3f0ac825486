// `walduck verify`, as a function:
//
//   1. look at the DuckDB file (read-only): its slot and stored LSN, the tables it holds; a file in use
//      (a replicate running on it) is refused here, before anything is asked of the server;
//   2. refuse if the slot is active (a replicate elsewhere following this replica);
//   3. take the consistent point: an LSN and a snapshot exactly at it, held by an anchor session
//      (point.ts); read the tables' columns under it;
//   4. then two sides at once:
//      - source: per table, count and hash sum of the canonical row texts, each table in a transaction
//        of its own on the snapshot (its lock ends with its scan); after the last table the anchor is
//        released, so the source's xmin is held only while the source is read;
//      - replica: brought to exactly that LSN (replicate --endpos POINT on the file's own slot, which
//        applies every transaction ending at or before it and none after), then the same per table;
//   5. compare; with --rows, narrow a difference down to its rows (this needs the snapshot, so with
//      --rows the anchor is held until the narrowing is done).
//
// Refusing rather than coordinating with a running replicate: a running replicate holds the DuckDB
// file's write lock for as long as it runs, and the only way to fence it at an LSN would be to stop
// it. Verify says so in one line and leaves the replicator alone.

import { type ConnectionSettings, connect, formatLsn, parseConnectionString } from '../protocol/index.js';
import { duckFold } from '../sink/sql.js';
import { describeTarget } from '../sink/target.js';
import type { SourceTable } from '../source/catalog.js';
import { qualified, quoteLiteral } from '../source/quote.js';
import { readSourceTables } from '../source/source-tables.js';
import type { TableRef } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import type { ColumnCanon } from './canonical.js';
import { VerifyError } from './errors.js';
import { mod64, narrow, type RowDiff } from './narrow.js';
import { takeConsistentPoint } from './point.js';
import {
  catchUp,
  type DuckFile,
  duckRows,
  inspectFile,
  numericModeOf,
  openAtPoint,
  readColumnTypes,
  tableKey,
  unfinishedCopies,
} from './replica.js';
import { openSnapshotSession, type SnapshotSession } from './snapshot-session.js';
import { canonsOf, type TableSql, type Tolerance, tableSql } from './table-sql.js';

/** Moments of a run, awaited when they return a promise: for progress displays, and tests that look at the server then. */
export interface VerifyEvents {
  /** A table's source side is hashed and its transaction committed (its lock released). */
  readonly sourceTable?: (t: TableRef) => void | Promise<void>;
  /** Every source table is hashed; without --rows the snapshot is released by now. */
  readonly sourceDone?: () => void | Promise<void>;
  /** The replica is at the point; its tables are about to be hashed. */
  readonly replicaReady?: () => void | Promise<void>;
}

export interface VerifyOptions {
  readonly source: string | undefined;
  readonly duckdb: string;
  /** Tables to compare (default: every table the replica holds). */
  readonly tables?: readonly TableRef[] | undefined;
  /** The replica's slot (default: the one slot walduck.state names). */
  readonly slot?: string | undefined;
  readonly rows: boolean;
  readonly maxDiffs: number;
  readonly log: (msg: string) => void;
  readonly warn: (msg: string) => void;
  readonly events?: VerifyEvents;
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
  /** Seconds spent hashing the table on each side (the sides run at once). */
  readonly seconds: number;
  readonly sourceSeconds: number;
  readonly replicaSeconds: number;
  readonly diffs?: readonly RowDiff[];
  readonly diffsTruncated?: boolean;
  /**
   * Source columns the replica lacks (its hash is then `-`): an ADD or RENAME COLUMN with no row of the
   * table written since, which walduck applies at the table's next change in the stream.
   */
  readonly missingInReplica?: readonly string[];
  /**
   * The table's online copy is not finished (why it was asked, may be empty): it holds the chunks
   * copied so far, so it differs until a replicate run finishes the copy.
   */
  readonly copyUnfinished?: string;
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
  /** Seconds the source's snapshot was held (the anchor's life). */
  readonly snapshotSeconds: number;
  readonly tables: readonly TableReport[];
  readonly seconds: number;
}

type Figures = {
  readonly side: Side;
  readonly seconds: number;
  /** Source columns the replica has no column for (a DDL it follows at the table's next change). */
  readonly missing?: readonly string[];
};

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = performance.now();
  const settings = parseConnectionString(o.source, process.env);
  const file = await inspectFile(o.duckdb, o.slot);
  // An empty list would make the catch-up's replicate follow every table (all-tables mode).
  if (file.follow !== 'all' && file.follow.length === 0) {
    throw new VerifyError(
      'config',
      'WALDUCK_VERIFY_NOTHING_FOLLOWED',
      `${o.duckdb} follows no table of slot ${file.slot} (each is stopped or skipped): there is nothing replicate keeps equal to compare; name tables in a replicate run first`,
    );
  }
  // Without --tables: the tables the replica follows. A stopped one is left as it was (the catch-up
  // does not follow it), so it would only ever compare DIFFERENT: named, not compared.
  const skipped = new Set(file.notFollowed.map(tableKey));
  const named = o.tables && o.tables.length > 0;
  const chosen = named ? (o.tables ?? []) : file.tables.filter((t) => !skipped.has(tableKey(t)));
  if (!named)
    for (const t of file.notFollowed)
      if (file.tables.some((f) => tableKey(f) === tableKey(t)))
        o.warn(
          `${shownName(t)}: not compared: no longer followed${t.lsn ? ` since LSN ${t.lsn}` : ''} (name it in --tables to compare it anyway)`,
        );
  const missing = chosen.filter(
    (t) => !file.tables.some((f) => f.schema === t.schema && f.table === t.table),
  );
  if (missing.length > 0) {
    throw new VerifyError(
      'config',
      'WALDUCK_VERIFY_UNKNOWN_TABLE',
      `table ${missing.map(shownName).join(', ')} is not in the replica ${o.duckdb} (it holds ${file.tables.map(shownName).join(', ') || 'no table'})`,
    );
  }
  await refuseActiveSlot(settings, file.slot, o.log);

  const point = await takeConsistentPoint(settings, { log: o.log });
  const p0 = performance.now();
  let snapshotSeconds: number | undefined;
  const release = async () => {
    await point.release();
    snapshotSeconds ??= (performance.now() - p0) / 1000;
  };
  let session: SnapshotSession | undefined;
  let duck: DuckFile | undefined;
  try {
    session = await openSnapshotSession(settings, point.snapshot, o.log);
    const pg = session;
    // Under the snapshot: the columns as they were at the point.
    // Every table the file follows (the catch-up follows them all, and how they store numeric decides
    // its options), the chosen ones compared. Not a stopped one unless chosen: it may be dropped at
    // the source (the catalog check stopped it so), and reading it failed the whole verify.
    const read = file.tables.filter(
      (t) => !skipped.has(tableKey(t)) || chosen.some((c) => tableKey(c) === tableKey(t)),
    );
    const all = await pg.run((q) => readSourceTables(q, read, o.warn));
    const sources = chosen.flatMap((c) => all.filter((t) => t.schema === c.schema && t.table === c.table));
    if (file.lsn > point.lsn) {
      throw new VerifyError(
        'catch-up',
        'WALDUCK_VERIFY_AHEAD',
        `the replica holds changes up to ${formatLsn(file.lsn)}, past the consistent point ${formatLsn(point.lsn)} just taken: something replicated into it meanwhile; run verify again`,
      );
    }
    // The source side is built from the replica's column types as they are now; the replica side
    // from those after the catch-up (a schema change it applies may change them).
    const names = sources.map((t) => describeTarget(t, file.catalog).name);
    const before = sources.map((t) => canonsOf(t, file.types.get(tableKey(t))));
    const sourceSql = sources.map((t, i) =>
      tableSql(t, names[i] ?? '', qualified(t.schema, t.table), {
        pg: before[i] ?? [],
        duck: before[i] ?? [],
      }),
    );
    // A side that failed stops the other at its next table: the run is lost anyway.
    let failed = false;
    const stopIfFailed = () => {
      if (failed) throw new VerifyError('compare', 'WALDUCK_VERIFY_ABANDONED', 'the other side failed');
    };
    const sourceSide = async (): Promise<Figures[]> => {
      const out: Figures[] = [];
      for (const [i, t] of sources.entries()) {
        stopIfFailed();
        const s0 = performance.now();
        const rows = await onTable(
          t,
          pg.run((q) => q(sqlOf(sourceSql, i).total('pg'))),
        );
        out.push({ side: figures(rows[0]), seconds: (performance.now() - s0) / 1000 });
        await o.events?.sourceTable?.(t);
      }
      // --rows may need the source again, under the same snapshot, for a table that differs.
      if (!o.rows) {
        await pg.close();
        await release();
      }
      await o.events?.sourceDone?.();
      return out;
    };
    const replicaSide = async () => {
      const c0 = performance.now();
      const caught = await catchUp(o, file, point.lsn, numericModeOf(all, file.types));
      const seconds = (performance.now() - c0) / 1000;
      o.log(
        `replica brought from ${formatLsn(file.lsn)} to ${formatLsn(caught.applied)} (point ${formatLsn(point.lsn)})`,
      );
      await o.events?.replicaReady?.();
      duck = await openAtPoint(o.duckdb, file, point.lsn, caught.applied);
      const conn = duck.conn;
      const types = await readColumnTypes(conn, file.sourceOf);
      const sqls = sources.map((t, i) =>
        tableSql(t, names[i] ?? '', qualified(t.schema, t.table), {
          pg: before[i] ?? [],
          duck: sameForms(t, before[i] ?? [], canonsOf(t, types.get(tableKey(t)))),
        }),
      );
      const out: Figures[] = [];
      for (const [i, t] of sources.entries()) {
        stopIfFailed();
        const s0 = performance.now();
        // WAL carries no DDL: a column added or renamed with no row of the table written since is not
        // in the replica yet. Its rows are counted, not hashed (DuckDB would refuse the column).
        const have = new Set([...(types.get(tableKey(t))?.keys() ?? [])].map((n) => duckFold(n)));
        const missing = t.columns.map((c) => c.name).filter((n) => !have.has(duckFold(n)));
        if (missing.length > 0) {
          const rows = await onTable(t, duckRows(conn, `SELECT count(*)::VARCHAR FROM ${names[i] ?? ''}`));
          const side = { rows: rows[0]?.[0] ?? '0', hash: '-' };
          out.push({ side, seconds: (performance.now() - s0) / 1000, missing });
          continue;
        }
        const rows = await onTable(t, duckRows(conn, sqlOf(sqls, i).total('duck')));
        out.push({ side: figures(rows[0]), seconds: (performance.now() - s0) / 1000 });
      }
      return { caught, seconds, figures: out, conn, sqls, copying: await unfinishedCopies(conn, file) };
    };
    const failing = <T>(p: Promise<T>) =>
      p.catch((err: unknown) => {
        failed = true;
        throw err;
      });
    const [a, b] = await Promise.allSettled([failing(sourceSide()), failing(replicaSide())]);
    // Both sides have finished, either way, before anything is closed under them.
    // The first real failure, not the other side's giving up.
    const why = [a, b].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    const first =
      why.find((e) => !(e instanceof VerifyError && e.code === 'WALDUCK_VERIFY_ABANDONED')) ?? why[0];
    if (first !== undefined || a.status === 'rejected' || b.status === 'rejected') throw first;
    const replica = b.value;
    const tables: TableReport[] = [];
    for (const [i, t] of sources.entries()) {
      const sql = sqlOf(replica.sqls, i);
      const source = a.value[i];
      const copy = replica.figures[i];
      if (!source || !copy) continue;
      const equal =
        copy.missing === undefined &&
        source.side.rows === copy.side.rows &&
        source.side.hash === copy.side.hash;
      let extra: Pick<TableReport, 'diffs' | 'diffsTruncated' | 'missingInReplica'> = {};
      const copying = replica.copying.get(tableKey(t));
      if (copy.missing !== undefined) extra = { missingInReplica: copy.missing };
      // A copy not finished differs in every row it has not reached yet: --rows would list them all.
      else if (!equal && o.rows && copying === undefined) {
        const n = await onTable(
          t,
          narrow(
            t,
            sql,
            { pg: (text) => pg.run((q) => q(text)), duck: (text) => duckRows(replica.conn, text) },
            o.maxDiffs,
          ),
        );
        extra = { diffs: n.diffs, diffsTruncated: n.truncated };
      }
      tables.push({
        schema: t.schema,
        table: t.table,
        equal,
        source: source.side,
        replica: copy.side,
        tolerances: sql.tolerances,
        seconds: Math.max(source.seconds, copy.seconds),
        sourceSeconds: source.seconds,
        replicaSeconds: copy.seconds,
        ...extra,
        ...(!equal && copying !== undefined ? { copyUnfinished: copying } : {}),
      });
    }
    await release();
    const caught = replica.caught;
    return {
      equal: tables.every((t) => t.equal),
      slot: file.slot,
      lsn: formatLsn(point.lsn),
      replicaLsnBefore: formatLsn(file.lsn),
      replicaLsn: formatLsn(caught.applied),
      catchUp: { changes: caught.changes, transactions: caught.transactions, seconds: replica.seconds },
      snapshotSeconds: snapshotSeconds ?? 0,
      tables,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await session?.close();
    await release();
    duck?.close();
  }
}

/** The replica side's forms, refused where the catch-up changed a column so that they differ. */
function sameForms(t: SourceTable, before: readonly ColumnCanon[], after: ColumnCanon[]): ColumnCanon[] {
  after.forEach((c, i) => {
    if (c.form !== before[i]?.form) {
      throw new VerifyError(
        'compare',
        'WALDUCK_VERIFY_TYPE_CHANGED',
        `${shownName(t)}: column ${shownIdent(t.columns[i]?.name ?? '?')} of the replica changed type during the catch-up (compared ${before[i]?.form ?? 'as text'} at the source, ${c.form ?? 'as text'} now): run verify again`,
      );
    }
  });
  return after;
}

function sqlOf(sqls: readonly TableSql[], i: number): TableSql {
  const s = sqls[i];
  if (!s) throw new RangeError(`no SQL for table ${i}`);
  return s;
}

function figures(r: readonly (string | null)[] | undefined): Side {
  return { rows: r?.[0] ?? '0', hash: mod64(r?.[1]).toString(16).padStart(16, '0') };
}

/** A query's failure, said with the table it was for. */
async function onTable<T>(t: TableRef, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof VerifyError) throw err;
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new VerifyError('compare', 'WALDUCK_VERIFY_QUERY', `${shownName(t)}: ${msg}`, {
      cause: err,
    });
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
