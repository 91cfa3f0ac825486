// Sets one column of every DuckDB row to the value the source holds now, matched by key: an ADD
// COLUMN whose default PostgreSQL computed per row, or a type change whose USING may have rewritten
// the values (neither WAL nor the catalog keeps the expression).
//
// The source is read in pages of FILL_PAGE rows in key order (keyset pagination, so each page is an
// index range scan), each page appended to a temp table in data chunks, then one UPDATE joins it to
// the DuckDB table. The values stay PostgreSQL's text until the UPDATE converts them with the
// column's SQL expression, as every staged value is (type-map.ts).

import type { DuckDBConnection } from '@duckdb/node-api';
import type { PgType } from '../source/catalog.js';
import type { SchemaCatalog } from '../source/schema-catalog.js';
import { DuckDBDataChunk, VARCHAR } from './duckdb-api.js';
import type { RecordedColumn } from './source-schema.js';
import { quoteIdent } from './sql.js';
import { type MapOptions, mapType } from './type-map.js';

/** Where the values of a column are read from the source now. */
export interface FillSpec {
  /** The source table as a SQL name now (pg_class.oid::regclass). */
  readonly relation: string;
  /** The column's name now, and the key columns' names now (in key order). */
  readonly column: string;
  readonly keys: readonly string[];
  /**
   * The column is read from a wider type than the DuckDB column's (added, then widened on the source
   * before walduck read the addition): thrown, before the UPDATE, when a value does not convert.
   */
  readonly unfit?: Error;
}

/** Rows read from the source per page. */
const FILL_PAGE = 10_000;
/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/**
 * Fills `col` of `table` from the source, page by page. A row changed or deleted on the source after
 * this read is brought back in line by the changes the stream still delivers (each carries the whole
 * row), so the table is exact again once replication has caught up with the time of this read.
 * Returns the rows read.
 */
export async function fillFromSource(
  conn: DuckDBConnection,
  query: SchemaCatalog,
  table: string,
  spec: FillSpec,
  keyTargets: readonly { name: string; pg: PgType }[],
  col: RecordedColumn,
  mo: MapOptions,
): Promise<number> {
  const stageName = 'walduck_fill';
  const stage = `temp.main.${quoteIdent(stageName)}`;
  const width = keyTargets.length + 1;
  const ks = keyTargets.map((_, j) => `k${j}`);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${quoteIdent(stageName)} (${[...ks, 'v'].map((c) => `${c} VARCHAR`).join(', ')})`,
  );
  const m = mapType(col.pg, mo);
  const chunk = DuckDBDataChunk.create(
    Array.from({ length: width }, () => VARCHAR),
    CHUNK_ROWS,
  );
  let last: readonly string[] | undefined;
  let total = 0;
  for (;;) {
    const rows = await query.page(spec.relation, spec.keys, spec.column, last, FILL_PAGE);
    if (rows.length === 0) break;
    // The Appender, not an INSERT of literals: DuckDB parsing 10000-row VALUES lists took ~35 s of
    // a 2M-row fill (most of it off the main thread), the chunks take a fraction of that.
    const appender = await conn.createAppender(stageName, 'main', 'temp');
    try {
      for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
        const part = rows.slice(start, start + CHUNK_ROWS);
        chunk.rowCount = part.length;
        for (let j = 0; j < keyTargets.length; j++)
          chunk.setColumnValues(
            j,
            part.map((r) => r[j] ?? null),
          );
        chunk.setColumnValues(
          keyTargets.length,
          part.map((r) => {
            const v = r[keyTargets.length] ?? null;
            return v === null || !m.pre ? v : m.pre(v);
          }),
        );
        appender.appendDataChunk(chunk);
        // Emptied as apply.ts does: its strings freed, every validity bit set again for the next.
        chunk.reset();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    total += rows.length;
    last = (rows[rows.length - 1] ?? []).slice(0, keyTargets.length).map((k) => k ?? '');
    if (rows.length < FILL_PAGE) break;
  }
  const match = keyTargets
    .map((k, j) => `t.${quoteIdent(k.name)} = ${mapType(k.pg, mo).convert(`s.k${j}`)}`)
    .join(' AND ');
  if (spec.unfit) {
    // Only rows DuckDB holds count (a row added since may well not fit); counted first, as a failed
    // UPDATE would leave the DuckDB transaction unusable.
    const bad = await conn.runAndReadAll(
      `SELECT count(*) FROM ${table} AS t JOIN ${stage} s ON ${match} WHERE s.v IS NOT NULL AND TRY(${m.convert('s.v')}) IS NULL`,
    );
    if (Number(bad.getRows()[0]?.[0] ?? 0) > 0) throw spec.unfit;
  }
  await conn.run(
    // Aliased: a table named s with a column k0 or v made its own name ambiguous (as in apply.ts).
    `UPDATE ${table} AS t SET ${quoteIdent(col.name)} = ${m.convert('s.v')} FROM ${stage} s WHERE ${match}`,
  );
  await conn.run(`DROP TABLE ${stage}`);
  return total;
}
