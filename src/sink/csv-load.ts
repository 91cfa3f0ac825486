// The snapshot's fast path into DuckDB: a segment of PostgreSQL `COPY … (FORMAT csv)` rows, loaded by
// DuckDB's own CSV reader with one INSERT … SELECT. Every column is read as VARCHAR and converted by
// the same SQL expression as a streamed value (type-map.ts), so both paths store the same thing.
//
// PostgreSQL's CSV: ',' between fields, '"' quotes and doubles itself, no backslash escapes; NULL is
// an unquoted empty field and '' a quoted one (hence allow_quoted_nulls = false).

import { rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral } from './sql.js';
import { StageError, type TableStage } from './stage.js';
import type { TargetTable } from './target.js';

/** A closed segment of CSV rows, ready for DuckDB (the snapshot's spool writes them). */
export interface CsvSegment {
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
  /** The longest row in bytes: DuckDB's reader must be told of rows above its 2 MB default. */
  readonly maxRowBytes: number;
  /** A row held "NaN" or "Infinity" somewhere: a DECIMAL column may need its NULL-and-warn. */
  readonly maybeNonFinite: boolean;
}

/** DuckDB's default longest line; longer rows must be announced. */
const DEFAULT_MAX_LINE = 2 * 1024 * 1024;
/** DuckDB's default read buffer (16 default lines). */
const DEFAULT_BUFFER = 16 * DEFAULT_MAX_LINE;
const NON_FINITE = `('NaN', 'Infinity', '-Infinity')`;

/** Tables whose text DuckDB converts by itself (no JS rewriting, as arrays need) can load as CSV. */
export function loadsAsCsv(target: TargetTable): boolean {
  return target.mappings.every((m) => m.pre === undefined);
}

export async function loadCsvSegment(
  conn: DuckDBConnection,
  target: TargetTable,
  stage: TableStage,
  segment: CsvSegment,
): Promise<void> {
  try {
    if (segment.rows === 0) return;
    const columns = target.mappings.map((_, i) => `'_c${i}': 'VARCHAR'`).join(', ');
    // A raised max_line_size alone makes DuckDB's buffer 16 times that (2 GB for a 128 MB row): set both.
    const maxLine = Math.max(DEFAULT_MAX_LINE, segment.maxRowBytes + 1024);
    const bufferSize = Math.max(DEFAULT_BUFFER, 2 * maxLine);
    const source = `read_csv(${quoteLiteral(segment.path)}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, max_line_size = ${maxLine}, buffer_size = ${bufferSize}, columns = {${columns}})`;
    const values = target.mappings.map((m, i) => {
      const ref = `_c${i}`;
      // NaN and ±Infinity have no DECIMAL form: NULL, as the streamed path stores them (warned below).
      return m.check === 'decimal'
        ? `CASE WHEN ${ref} IN ${NON_FINITE} THEN NULL ELSE ${m.convert(ref)} END`
        : m.convert(ref);
    });
    const r = await conn.run(`INSERT INTO ${target.name} SELECT ${values.join(', ')} FROM ${source}`);
    // A misread file (a quoting rule got wrong) would show as another row count: never load it silently.
    if (r.rowsChanged !== segment.rows) {
      throw new StageError(
        `DuckDB read ${r.rowsChanged} rows from a CSV segment of ${segment.rows} rows copied from ${target.source.schema}.${target.source.table}`,
      );
    }
    if (segment.maybeNonFinite) await warnNonFinite(conn, target, stage, source);
  } finally {
    rmSync(segment.path, { force: true });
  }
}

/** Says (once per column, through the stage's warning) that a DECIMAL column held NaN or ±Infinity. */
async function warnNonFinite(
  conn: DuckDBConnection,
  target: TargetTable,
  stage: TableStage,
  source: string,
): Promise<void> {
  const decimals = target.mappings.flatMap((m, i) => (m.check === 'decimal' ? [i] : []));
  if (decimals.length === 0) return;
  const found = await conn.runAndReadAll(
    `SELECT ${decimals.map((i) => `any_value(_c${i}) FILTER (WHERE _c${i} IN ${NON_FINITE})`).join(', ')} FROM ${source}`,
  );
  const row = found.getRows()[0] ?? [];
  decimals.forEach((p, j) => {
    const v = row[j];
    if (typeof v === 'string') stage.storedAsNull(p, v);
  });
}
