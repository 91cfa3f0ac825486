// The replica's side of verify: what the DuckDB file holds (its slot, stored LSN and tables), bringing
// it to the consistent point (an in-process replicate --endpos on its own slot), and reading it.
// The file is opened read-only except by the catch-up, and closed between the two, so a file held by a
// running replicate is refused in one line rather than waited for.

import { existsSync } from 'node:fs';
import { formatLsn, type Lsn, parseLsn } from '../protocol/index.js';
import { replicate } from '../replicator/replicate.js';
import { openDuckDb } from '../sink/duckdb-file.js';
import { DuckFileError } from '../sink/errors.js';
import { duckFold, quoteIdent as duckIdent, quoteLiteral as duckLiteral } from '../sink/sql.js';
import { readRecorded, readTableSet, recordRef, type TableRecord } from '../sink/table-records.js';
import { targetSchema } from '../sink/target.js';
import { mapType, type NumericMode } from '../sink/type-map.js';
import type { SourceTable } from '../source/catalog.js';
import { refKey, type TableRef } from '../wal2json/change.js';
import { VerifyError } from './errors.js';

export interface FileInfo {
  readonly slot: string;
  readonly lsn: Lsn;
  /** The attached database's name: every reference into the file is qualified with it. */
  readonly catalog: string;
  readonly tables: readonly TableRef[];
  /** What the catch-up follows: the tables the file's table set follows, or 'all' (all-tables mode). */
  readonly follow: readonly TableRef[] | 'all';
  /**
   * Tables the file holds that its table set no longer follows (stopped or skipped), with the LSN
   * each stopped at: the catch-up leaves them as they are, so a run without --tables skips them.
   */
  readonly notFollowed: readonly (TableRef & { readonly lsn: string | null })[];
  /** The source table a DuckDB table replicates. */
  readonly sourceOf: SourceNames;
  /** Each table's DuckDB column types by column name, keyed by tableKey(). */
  readonly types: ColumnTypes;
}

export type ColumnTypes = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** A source table's key in `types`: NUL-separated, so "a.b"."c" and "a"."b.c" stay two tables. */
export const tableKey = refKey;

/**
 * Which source table each DuckDB table replicates, from the slot's table set (walduck.tables).
 * Guessing from the DuckDB name is wrong for a source schema named `main`: DuckDB's `main` holds
 * `public`'s tables, so only the record knows. A table with no record (a file from an older walduck)
 * falls back to that rule. DuckDB names are case-insensitive, and the sink refuses two source tables
 * that differ only in case, so the lookup ignores case.
 */
export type SourceNames = (duckSchema: string, duckTable: string) => TableRef;

const duckKey = (schema: string, table: string) => `${duckFold(schema)}\u0000${duckFold(table)}`;

export function sourceNames(records: readonly TableRecord[]): SourceNames {
  const bySource = new Map<string, TableRef>();
  // A stopped record can name the same DuckDB table as a followed one (a table left out whose name
  // differs only in case, or one a refused start recorded): the followed one is what the table holds.
  const ordered = [
    ...records.filter((r) => r.state === 'stopped'),
    ...records.filter((r) => r.state !== 'stopped'),
  ];
  for (const r of ordered)
    bySource.set(
      duckKey(r.targetSchema ?? targetSchema(r.sourceSchema), r.targetTable ?? r.sourceTable),
      recordRef(r),
    );
  return (schema, table) =>
    bySource.get(duckKey(schema, table)) ?? { schema: schema === 'main' ? 'public' : schema, table };
}

/** The replica's column types (information_schema's spelling: "DECIMAL(38,4)", "DOUBLE[]"). */
export async function readColumnTypes(conn: DuckConnection, sourceOf: SourceNames): Promise<ColumnTypes> {
  const rows = await duckRows(
    conn,
    `SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
      WHERE table_catalog = current_database() AND table_schema <> 'walduck'`,
  );
  const out = new Map<string, Map<string, string>>();
  for (const [schema, table, column, type] of rows) {
    const key = tableKey(sourceOf(schema ?? '', table ?? ''));
    let m = out.get(key);
    if (!m) {
      m = new Map();
      out.set(key, m);
    }
    m.set(column ?? '', type ?? '');
  }
  return out;
}

type DuckInstance = Awaited<ReturnType<typeof openDuckDb>>;
type DuckConnection = Awaited<ReturnType<DuckInstance['connect']>>;

export interface DuckFile {
  readonly conn: DuckConnection;
  close(): void;
}

export async function openDuck(file: string): Promise<DuckFile> {
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
  return {
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

export async function duckRows(conn: DuckConnection, sql: string): Promise<(string | null)[][]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRows().map((row) => row.map((v) => (v === null || v === undefined ? null : String(v))));
}

export async function inspectFile(file: string, slot: string | undefined): Promise<FileInfo> {
  if (!existsSync(file))
    throw new VerifyError('config', 'WALDUCK_VERIFY_NO_FILE', `DuckDB file ${file} does not exist`);
  const duck = await openDuck(file);
  const conn = duck.conn;
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
    const records = await readRecords(conn, row[0] ?? '');
    const sourceOf = sourceNames(records ?? []);
    const all = tables.map((r) => sourceOf(r[0] ?? '', r[1] ?? ''));
    return {
      slot: row[0] ?? '',
      lsn,
      catalog,
      sourceOf,
      types: await readColumnTypes(conn, sourceOf),
      tables: all,
      ...(await readFollowed(conn, row[0] ?? '', records, all)),
    };
  } finally {
    duck.close();
  }
}

/**
 * What the catch-up follows: what the file's last replicate followed, so verify leaves the table set
 * as it found it. Every DuckDB table instead made a table the user had stopped join again (copied
 * online), and turned an all-tables replica into a list, after which a table without a key created at
 * the source since could never join (it is refused where all-tables mode follows it from WAL).
 * `fallback` (every DuckDB table) is for a file from an older walduck, which records no table set.
 */
async function readFollowed(
  conn: DuckConnection,
  slot: string,
  records: readonly TableRecord[] | undefined,
  fallback: readonly TableRef[],
): Promise<Pick<FileInfo, 'follow' | 'notFollowed'>> {
  if (!records) return { follow: fallback, notFollowed: [] };
  const notFollowed = records
    .filter((r) => r.state === 'stopped' || r.state === 'skipped')
    .map((r) => ({ ...recordRef(r), lsn: r.lsn }));
  // Unreadable JSON: the records as a list, as replicate reads such a set.
  if ((await readRecorded(conn, slot))?.mode === 'all') return { follow: 'all', notFollowed };
  const follow = records.filter((r) => r.state === 'streaming' || r.state === 'copying').map(recordRef);
  return { follow, notFollowed };
}

/** Whether the file has walduck's table `name` (an older file may lack it; read only, so not created). */
async function hasStateTable(conn: DuckConnection, name: string): Promise<boolean> {
  const has = await duckRows(
    conn,
    `SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'walduck' AND table_name = ${duckLiteral(name)}`,
  );
  return has[0]?.[0] !== '0';
}

/** The slot's table set, read once for the file's names and what its catch-up follows; undefined without one. */
async function readRecords(conn: DuckConnection, slot: string): Promise<TableRecord[] | undefined> {
  return (await hasStateTable(conn, 'tables')) ? await readTableSet(conn, slot) : undefined;
}

/**
 * The tables whose online copy has not finished (walduck.copies, by table key), with why it was asked.
 * The catch-up stops at the consistent point, not at the copy's end: such a table holds the chunks
 * copied so far, and compares DIFFERENT until a replicate run finishes the copy.
 */
export async function unfinishedCopies(conn: DuckConnection, info: FileInfo): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!(await hasStateTable(conn, 'copies'))) return out;
  const rows = await duckRows(
    conn,
    `SELECT source_schema, source_table, reason FROM ${duckIdent(info.catalog)}.walduck.copies WHERE slot = ${duckLiteral(info.slot)}`,
  );
  for (const [schema, table, reason] of rows)
    out.set(tableKey({ schema: schema ?? '', table: table ?? '' }), reason ?? '');
  return out;
}

export interface CatchUpOptions {
  readonly source: string | undefined;
  readonly duckdb: string;
  readonly log: (msg: string) => void;
  readonly warn: (msg: string) => void;
}

/**
 * How the replica was made to store unconstrained numeric (replicate --numeric): the file does not
 * record it, and the catch-up's replicate refuses a table whose columns differ from what its options
 * would create. Any such column stored as anything but DOUBLE means 'exact'.
 */
export function numericModeOf(sources: readonly SourceTable[], types: ColumnTypes): NumericMode {
  for (const t of sources) {
    for (const c of t.columns) {
      const base = c.type.element ?? c.type;
      if (base.typname !== 'numeric' || mapType(base).duckType !== 'DOUBLE') continue;
      const stored = types
        .get(tableKey(t))
        ?.get(c.name)
        ?.replace(/(\[\])+$/, '');
      if (stored !== undefined && stored !== 'DOUBLE') return 'exact';
    }
  }
  return 'double';
}

export async function catchUp(o: CatchUpOptions, file: FileInfo, point: Lsn, numeric: NumericMode) {
  // Every table the replica follows, not only the compared ones: the slot's position is shared, so
  // following fewer tables would advance it past changes of the others (readFollowed).
  try {
    const r = await replicate({
      source: o.source,
      duckdb: o.duckdb,
      tables: file.follow === 'all' ? undefined : file.follow,
      slot: file.slot,
      formatVersion: 2,
      writeInChunks: true,
      batchChanges: 100_000,
      batchMs: 1000,
      stopAt: { kind: 'endpos', lsn: point },
      snapshot: 'off',
      numeric,
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

/** Opens the file after the catch-up, refusing it if anything moved it since. */
export async function openAtPoint(file: string, info: FileInfo, point: Lsn, applied: Lsn): Promise<DuckFile> {
  const duck = await openDuck(file);
  try {
    // Qualified with the attached database: a file named walduck.duckdb would make walduck.state ambiguous.
    const now = await duckRows(
      duck.conn,
      `SELECT lsn FROM ${duckIdent(info.catalog)}.walduck.state WHERE slot = ${duckLiteral(info.slot)}`,
    );
    if (parseLsn(now[0]?.[0] ?? '') !== applied) {
      throw new VerifyError(
        'duckdb',
        'WALDUCK_VERIFY_MOVED',
        `the replica moved to ${now[0]?.[0] ?? 'nothing'} after verify brought it to ${formatLsn(applied)} (point ${formatLsn(point)}): another process wrote to it; run verify again`,
      );
    }
    await duck.conn.run("SET TimeZone = 'UTC'");
    return duck;
  } catch (err) {
    duck.close();
    throw err;
  }
}
