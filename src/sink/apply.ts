// Applies a table's staged batch to DuckDB set-based. The staged rows (exact text, all VARCHAR) go
// through the Appender into a temp table in whole data chunks; then three statements, in the order
// stage.ts relies on: DELETE by old key, UPDATE matched on old key, INSERT. Each converts the text
// with the column's SQL expression from type-map.ts, so DuckDB's parsers do every conversion.
//
// Tables without a key (REPLICA IDENTITY FULL, no primary key) are multisets: an UPDATE or DELETE
// must touch exactly one of possibly identical rows, which a set-based join cannot say. Those go row
// by row (`rowid` of the first match); inserts still go in chunks.

import { type DuckDBConnection, DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
import type { RowImage, Value } from '../wal2json/change.js';
import { quoteIdent } from './sql.js';
import { OP_DELETE, OP_INSERT, OP_UPDATE, type TableStage } from './stage.js';
import type { TargetTable } from './target.js';

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;

export class TableApplier {
  private readonly stageRef: string;
  private readonly stageTypes: (typeof VARCHAR)[];
  private readonly sql: { delete: string; update: string; updateMasked: string; insert: string };

  constructor(
    private readonly conn: DuckDBConnection,
    readonly target: TargetTable,
    private readonly stageName: string,
  ) {
    this.stageRef = `temp.main.${quoteIdent(stageName)}`;
    this.stageTypes = Array.from({ length: 2 + target.key.length + target.mappings.length }, () => VARCHAR);
    const col = (i: number) => quoteIdent(target.source.columns[i]?.name ?? '');
    const conv = (i: number, ref: string) => target.mappings[i]?.convert(ref) ?? ref;
    const keyMatch = target.key
      .map((k, j) => `${target.name}.${col(k)} = ${conv(k, `s._k${j}`)}`)
      .join(' AND ');
    const all = target.mappings.map((_, i) => i);
    this.sql = {
      delete: `DELETE FROM ${target.name} USING ${this.stageRef} s WHERE s._op = '${OP_DELETE}' AND ${keyMatch}`,
      update: `UPDATE ${target.name} SET ${all.map((i) => `${col(i)} = ${conv(i, `s._c${i}`)}`).join(', ')} FROM ${this.stageRef} s WHERE s._op = '${OP_UPDATE}' AND ${keyMatch}`,
      updateMasked: `UPDATE ${target.name} SET ${all
        .map(
          (i) =>
            `${col(i)} = CASE WHEN s._mask IS NULL OR substr(s._mask, ${i + 1}, 1) = '1' THEN ${conv(i, `s._c${i}`)} ELSE ${target.name}.${col(i)} END`,
        )
        .join(', ')} FROM ${this.stageRef} s WHERE s._op = '${OP_UPDATE}' AND ${keyMatch}`,
      insert: `INSERT INTO ${target.name} SELECT ${all.map((i) => conv(i, `_c${i}`)).join(', ')} FROM ${this.stageRef} WHERE _op = '${OP_INSERT}'`,
    };
  }

  /** The temp staging table lives as long as the DuckDB connection; temp tables are never logged. */
  async createStage(): Promise<void> {
    const cols = [
      '_op',
      '_mask',
      ...this.target.key.map((_, j) => `_k${j}`),
      ...this.target.mappings.map((_, i) => `_c${i}`),
    ];
    await this.conn.run(
      `CREATE OR REPLACE TEMP TABLE ${quoteIdent(this.stageName)} (${cols.map((c) => `${c} VARCHAR`).join(', ')})`,
    );
  }

  async flush(stage: TableStage): Promise<void> {
    const n = stage.size;
    if (n === 0) return;
    const t0 = performance.now();
    const appender = await this.conn.createAppender(this.stageName, 'main', 'temp');
    try {
      for (let start = 0; start < n; start += CHUNK_ROWS) {
        const end = Math.min(n, start + CHUNK_ROWS);
        const chunk = DuckDBDataChunk.create(this.stageTypes, end - start);
        let c = 0;
        chunk.setColumnValues(c++, stage.ops.slice(start, end));
        chunk.setColumnValues(c++, stage.masks.slice(start, end));
        for (const k of stage.oldKeys) chunk.setColumnValues(c++, k.slice(start, end));
        for (const col of stage.columns) chunk.setColumnValues(c++, col.slice(start, end));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const t1 = performance.now();
    const { counts } = stage;
    if (counts.delete > 0) await this.conn.run(this.sql.delete);
    if (counts.update > 0) await this.conn.run(counts.masked > 0 ? this.sql.updateMasked : this.sql.update);
    if (counts.insert > 0) await this.conn.run(this.sql.insert);
    const t2 = performance.now();
    await this.conn.run(`DELETE FROM ${this.stageRef}`);
    stage.clear();
    if (process.env.WD_TIMING)
      console.error(
        'flush',
        n,
        'append',
        (t1 - t0).toFixed(0),
        'sql',
        (t2 - t1).toFixed(0),
        'del',
        (performance.now() - t2).toFixed(0),
      );
  }

  async truncate(): Promise<void> {
    await this.conn.run(`DELETE FROM ${this.target.name}`);
  }

  /** One UPDATE or DELETE on a keyless table: the first row equal (NULL-safe) to the old image. */
  async keylessChange(old: RowImage, row: RowImage | undefined): Promise<void> {
    const t = this.target;
    const params: Value[] = [];
    const param = (i: number, v: Value): string => {
      params.push(v === null ? null : (t.mappings[i]?.pre?.(v) ?? v));
      return t.mappings[i]?.convert(`CAST($${params.length} AS VARCHAR)`) ?? '';
    };
    // With FULL identity the old image holds every column, except that format-version 1 leaves out
    // those whose old value was NULL (v2 lists them as null): an absent column matches NULL.
    const oldValues: Value[] = t.mappings.map(() => null);
    old.names.forEach((name, j) => {
      const i = t.position.get(name);
      if (i !== undefined) oldValues[i] = old.values[j] ?? null;
    });
    const sets: string[] = [];
    if (row) {
      row.names.forEach((name, j) => {
        const i = t.position.get(name) ?? -1;
        sets.push(`${quoteIdent(name)} = ${param(i, row.values[j] ?? null)}`);
      });
    }
    const match = t.source.columns
      .map((c, i) => `${quoteIdent(c.name)} IS NOT DISTINCT FROM ${param(i, oldValues[i] ?? null)}`)
      .join(' AND ');
    const which = `rowid = (SELECT rowid FROM ${t.name} WHERE ${match} LIMIT 1)`;
    const sql = row
      ? `UPDATE ${t.name} SET ${sets.join(', ')} WHERE ${which}`
      : `DELETE FROM ${t.name} WHERE ${which}`;
    await this.conn.run(sql, params);
  }
}
