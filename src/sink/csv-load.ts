// The snapshot's fast path into DuckDB: a segment of PostgreSQL `COPY … (FORMAT csv)` rows, loaded by
// DuckDB's own CSV reader with one INSERT … SELECT. Every column is read as VARCHAR and converted by
// the same SQL expression as a streamed value (type-map.ts), so both paths store the same thing.
//
// PostgreSQL's CSV: ',' between fields, '"' quotes and doubles itself, no backslash escapes; NULL is
// an unquoted empty field and '' a quoted one (hence allow_quoted_nulls = false).

import { rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Lsn } from '../protocol/lsn.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { ApplyError, COPY_VALUE_ADVICE, duckReason } from './apply-error.js';
import { findBadCsv } from './diagnose.js';
import { quoteLiteral } from './sql.js';
import { NON_FINITE_ADVICE, StageError } from './stage.js';
import type { TargetTable } from './target.js';
import type { ColumnMapping } from './type-map.js';

/** A closed segment of CSV rows, ready for DuckDB (the snapshot's spool writes them). */
export interface CsvSegment {
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
  /** The longest row in bytes: DuckDB's reader must be told of rows above its 2 MB default. */
  readonly maxRowBytes: number;
  /** The sizes of its largest rows, at most one DuckDB vector of them (commit-window.ts). */
  readonly largestRows?: ArrayLike<number>;
}

/** DuckDB's default longest line; longer rows must be announced. */
const DEFAULT_MAX_LINE = 2 * 1024 * 1024;
/** DuckDB's default read buffer (16 default lines). */
const DEFAULT_BUFFER = 16 * DEFAULT_MAX_LINE;
/**
 * DuckDB threads for a segment's INSERT … SELECT: one. Measured on 1M rows (bench/snapshot-stages.ts,
 * 2 cores): loading the segments then COMMIT and CHECKPOINT cost DuckDB 3.4–5.7 CPU seconds with its
 * default threads (the checkpoint alone 1.2–2.4: it rewrites the row groups the threads appended side
 * by side) and 1.6–1.9 with one (checkpoint ~0), peak RSS 50–80 MB lower. The segments already load
 * while the next one is received, so the other cores serve PostgreSQL and Node.
 * WALDUCK_SNAPSHOT_LOAD_THREADS=N overrides it (0: DuckDB's own setting, as before).
 */
const LOAD_THREADS = Number(process.env.WALDUCK_SNAPSHOT_LOAD_THREADS ?? 1);
const COPY_ADVICE = `${COPY_VALUE_ADVICE} (nothing was committed)`;

/** Each connection's instance thread count, read once: only this module changes it, and puts it back. */
const threadCounts = new WeakMap<DuckDBConnection, number>();

/**
 * The instance's thread count, asked of DuckDB once per connection: asked before every segment, the
 * round trip through the thread pool delayed each next INSERT, while DuckDB is the snapshot's
 * slowest stage.
 */
async function instanceThreads(conn: DuckDBConnection): Promise<number> {
  let n = threadCounts.get(conn);
  if (n === undefined) {
    n = Number((await conn.runAndReadAll("SELECT current_setting('threads')")).getRows()[0]?.[0]);
    threadCounts.set(conn, n);
  }
  return n;
}

/**
 * Tables whose text DuckDB converts by itself (no JS rewriting, as arrays need) can load as CSV; a
 * column whose text only the Appender stores unchecked (json) cannot (ColumnMapping.appended).
 */
export function loadsAsCsv(target: TargetTable): boolean {
  return target.mappings.every((m) => (m.pre === undefined || m.csv !== undefined) && m.appended !== true);
}

export async function loadCsvSegment(
  conn: DuckDBConnection,
  target: TargetTable,
  segment: CsvSegment,
  lsn?: Lsn,
): Promise<void> {
  let source = '';
  try {
    if (segment.rows === 0) return;
    const columns = target.mappings.map((_, i) => `'_c${i}': 'VARCHAR'`).join(', ');
    // A raised max_line_size alone makes DuckDB's buffer 16 times that (2 GB for a 128 MB row): set both.
    const maxLine = Math.max(DEFAULT_MAX_LINE, segment.maxRowBytes + 1024);
    const bufferSize = Math.max(DEFAULT_BUFFER, 2 * maxLine);
    source = `read_csv(${quoteLiteral(segment.path)}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, max_line_size = ${maxLine}, buffer_size = ${bufferSize}, columns = {${columns}})`;
    // NaN and ±Infinity have no DECIMAL form: the cast fails and csvError says so.
    const values = target.mappings.map((m, i) => (m.csv ?? m.convert)(`_c${i}`));
    let r: Awaited<ReturnType<DuckDBConnection['run']>>;
    // The instance's own count (replicate's --duckdb-threads) is put back afterwards, not DuckDB's default.
    const before = await instanceThreads(conn);
    const serial = Number.isInteger(LOAD_THREADS) && LOAD_THREADS > 0 && LOAD_THREADS !== before;
    if (serial) await conn.run(`SET threads = ${LOAD_THREADS}`);
    try {
      r = await conn.run(`INSERT INTO ${target.name} SELECT ${values.join(', ')} FROM ${source}`);
    } catch (err) {
      throw await csvError(err, target, source, lsn);
    } finally {
      // Everything else (the streamed changes, their checkpoints) keeps the instance's thread count.
      if (serial) await conn.run(`SET threads = ${before}`).catch(() => {});
    }
    // A misread file (a quoting rule got wrong) would show as another row count: never load it silently.
    if (r.rowsChanged !== segment.rows) {
      throw new StageError(
        `DuckDB read ${r.rowsChanged} rows from a CSV segment of ${segment.rows} rows copied from ${shownName(target.source)}`,
      );
    }
  } finally {
    rmSync(segment.path, { force: true });
  }
}

/** The streamed path's own reason for refusing a value (its `pre` check), which the CSV SQL only enforces. */
function whyNot(m: ColumnMapping | undefined, value: string): string | undefined {
  try {
    m?.pre?.(value);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : undefined;
  }
}

/**
 * DuckDB refused a segment: name the first value that does not convert (column and key), in one line.
 * The value itself goes to the error's snippet (shown with --debug-values only).
 */
async function csvError(
  err: unknown,
  target: TargetTable,
  source: string,
  lsn: Lsn | undefined,
): Promise<ApplyError> {
  const bad = await findBadCsv(target.mappings, source);
  const base = {
    table: shownName(target.source),
    during: 'copy' as const,
    ...(lsn !== undefined ? { lsn } : {}),
  };
  const duck = duckReason(err);
  if (!bad)
    return new ApplyError(base, `DuckDB refused the copied rows: ${duck.text}`, {
      cause: err,
      snippet: duck.snippet,
    });
  let key = `(line ${bad.row + 1} of the segment)`;
  let value: string | null = null;
  try {
    const { DuckDBInstance } = await import('./duckdb-api.js');
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    const keyRefs = target.key.map((k) => `_c${k}`);
    const r = await c.runAndReadAll(
      `SELECT ${[...keyRefs, `_c${bad.column}`].join(', ')} FROM ${source} LIMIT 1 OFFSET ${bad.row}`,
    );
    const row = r.getRows()[0] ?? [];
    const names = target.key.map((k) => shownIdent(target.source.columns[k]?.name ?? '?'));
    const keys = row.slice(0, keyRefs.length);
    key = `(${names.join(', ')}) = (${keys.map((v) => (v === null ? 'NULL' : JSON.stringify(String(v)))).join(', ')})`;
    const v = row[keyRefs.length];
    value = v === null || v === undefined ? null : String(v);
    c.closeSync();
    inst.closeSync();
  } catch {
    // Keep the line number.
  }
  const m = target.mappings[bad.column];
  const nonFinite =
    m?.check === 'decimal' && (value === 'NaN' || value === 'Infinity' || value === '-Infinity');
  const reason = nonFinite
    ? `a NaN or ±Infinity was copied for a ${m?.duckType} column; ${NON_FINITE_ADVICE}`
    : `${(value !== null && whyNot(m, value)) || `DuckDB refused the value: ${duck.text}`}; ${COPY_ADVICE}`;
  return new ApplyError({ ...base, column: target.source.columns[bad.column]?.name ?? '?', key }, reason, {
    cause: err,
    snippet: value ?? duck.snippet,
  });
}
