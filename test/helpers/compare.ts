// Compares a DuckDB replica table with its PostgreSQL source, row for row. The source rows are read
// with COPY (exact text), converted with the same type mapping the sink uses, and compared with the
// replica in DuckDB both ways (EXCEPT ALL), so a missing, extra, duplicated or different row fails.
// Type fidelity itself (does that mapping give the right DuckDB value?) is tested separately with
// hand-written expectations.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DuckDBDataChunk, DuckDBInstance, VARCHAR } from '@duckdb/node-api';
import { type ClusterInfo, psqlArgs } from '../../src/cluster/throwaway.js';
import { quoteIdent } from '../../src/sink/sql.js';
import { describeTarget } from '../../src/sink/target.js';
import type { QueryFn } from '../../src/source/catalog.js';
import { readSourceTables } from '../../src/source/source-tables.js';
import type { TableRef } from '../../src/wal2json/change.js';

const lostByWal2json = new Set(['numeric', 'float4', 'float8']);
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

function psqlRaw(info: ClusterInfo, sql: string, extra: readonly string[] = []): string {
  const r = spawnSync('psql', [...psqlArgs(info), ...extra, '-c', sql], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * A catalog QueryFn over psql: unit separator between fields, group separator between rows (a name
 * may hold a newline: split at newlines, such a table was "unknown").
 */
export function psqlQuery(info: ClusterInfo): QueryFn {
  return async (sql) =>
    psqlRaw(info, sql, ['-A', '-t', '-F', '\x1f', '-R', '\x1d', '-P', 'null=\x1e'])
      .replace(/\n$/, '')
      .split('\x1d')
      .filter((l) => l !== '')
      .map((l) => l.split('\x1f').map((v) => (v === '\x1e' ? null : v)));
}

/** COPY's text format: tab-separated, \N for NULL, backslash escapes. */
export function parseCopyText(text: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  // Every row ends with a newline; an empty line is a row too (one column holding '').
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) {
    rows.push(line.split('\t').map((f) => (f === '\\N' ? null : unescapeCopy(f))));
  }
  return rows;
}

function unescapeCopy(f: string): string {
  if (!f.includes('\\')) return f;
  const map: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
  return f.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(Number.parseInt(e, 8));
    return map[e] ?? e;
  });
}

/** One table's comparison: source rows missing from the replica, replica rows the source lacks. */
export interface TableDiff {
  readonly table: string;
  /** Rows in PostgreSQL not in DuckDB (lost), counted with multiplicity. */
  readonly missing: number;
  /** Rows in DuckDB not in PostgreSQL (doubled or stale), counted with multiplicity. */
  readonly extra: number;
  /** Row counts on each side. */
  readonly rows: number;
  readonly sourceRows: number;
}

export async function assertReplicaEquals(
  info: ClusterInfo,
  duckFile: string,
  tables: readonly TableRef[],
): Promise<void> {
  for (const d of await replicaDiff(info, duckFile, tables)) {
    assert.deepEqual(
      { table: d.table, missing: d.missing, extra: d.extra, rows: d.rows },
      { table: d.table, missing: 0, extra: 0, rows: d.sourceRows },
    );
  }
}

/** Compares each table both ways (EXCEPT ALL) and returns the counts, for a caller that reports them. */
export async function replicaDiff(
  info: ClusterInfo,
  duckFile: string,
  tables: readonly TableRef[],
): Promise<TableDiff[]> {
  const diffs: TableDiff[] = [];
  const sources = await readSourceTables(psqlQuery(info), tables);
  const db = await DuckDBInstance.create(duckFile, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  try {
    const catalog = String((await conn.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0]);
    for (const source of sources) {
      const target = describeTarget(source, catalog);
      const cols = source.columns.map((c) => `"${c.name.replaceAll('"', '""')}"`).join(', ');
      const qname = `"${source.schema.replaceAll('"', '""')}"."${source.table.replaceAll('"', '""')}"`;
      const rows = parseCopyText(psqlRaw(info, `COPY (SELECT ${cols} FROM ${qname}) TO STDOUT`));
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE expected_raw (${source.columns.map((_, i) => `c${i} VARCHAR`).join(', ')})`,
      );
      const app = await conn.createAppender('expected_raw', 'main', 'temp');
      for (let start = 0; start < rows.length; start += 2048) {
        const part = rows.slice(start, start + 2048);
        const chunk = DuckDBDataChunk.create(
          source.columns.map(() => VARCHAR),
          part.length,
        );
        source.columns.forEach((_, i) => {
          const m = target.mappings[i];
          chunk.setColumnValues(
            i,
            part.map((r) => {
              const v = r[i] ?? null;
              // wal2json 2.5 prints NaN and ±Infinity of float and numeric as JSON null (README,
              // "What wal2json loses"): the replica can only hold NULL there.
              if (
                v !== null &&
                lostByWal2json.has(source.columns[i]?.type.typname ?? '') &&
                NON_FINITE.has(v)
              )
                return null;
              return v !== null && m?.pre ? m.pre(v) : v;
            }),
          );
        });
        app.appendDataChunk(chunk);
      }
      app.flushSync();
      app.closeSync();
      const expected = `SELECT ${target.mappings.map((m, i) => m.convert(`c${i}`)).join(', ')} FROM temp.main.expected_raw`;
      // A streamed NaN/±Infinity is NULL (wal2json's loss), a snapshot-copied one exact: both match.
      const finite = (m: { duckType: string }, ref: string) =>
        m.duckType === 'FLOAT' || m.duckType === 'DOUBLE'
          ? `CASE WHEN isnan(${ref}) OR isinf(${ref}) THEN NULL ELSE ${ref} END`
          : ref;
      const actual = `SELECT ${target.mappings.map((m, i) => finite(m, quoteIdent(source.columns[i]?.name ?? ''))).join(', ')} FROM ${target.name}`;
      const count = async (sql: string) => Number((await conn.runAndReadAll(sql)).getRows()[0]?.[0]);
      const missing = await count(`SELECT count(*) FROM (${expected} EXCEPT ALL ${actual})`);
      const extra = await count(`SELECT count(*) FROM (${actual} EXCEPT ALL ${expected})`);
      const n = await count(`SELECT count(*) FROM ${target.name}`);
      diffs.push({
        table: `${source.schema}.${source.table}`,
        missing,
        extra,
        rows: n,
        sourceRows: rows.length,
      });
    }
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  return diffs;
}
