// The source schema each DuckDB table was built from, recorded in walduck.columns: one row per DuckDB
// column, in DuckDB's column order, with the PostgreSQL attnum, name and type the stream showed for
// it. Schema changes are detected by comparing each change's column names and types with this record
// (never with the catalog "now", which may be several DDLs ahead), and every change applied rewrites
// the record in the same DuckDB transaction as the ALTER and the rows that follow it.
//
// A column the source dropped but DuckDB keeps (--on-drop-column keep) stays in the record with
// `dropped` set: it is part of the DuckDB table, filled NULL by every row written after the drop.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import type { PgType, ReplicaIdentity, SourceTable } from '../source/catalog.js';
import type { SchemaCatalog } from '../source/schema-catalog.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { attachedCatalog } from './checkpoint.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { STATE_SCHEMA } from './target.js';

/**
 * walduck.columns qualified with the attached database: DuckDB names the catalog after the file, so
 * a file named walduck.duckdb would make a bare walduck.columns ambiguous (see target.ts).
 */
async function columnsTable(conn: DuckDBConnection): Promise<string> {
  return `${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent('columns')}`;
}

export interface RecordedColumn {
  /** pg_attribute.attnum: PostgreSQL never reuses one, so a rename keeps it and a re-add gets a new one. */
  readonly attnum: number;
  readonly name: string;
  /** The type as wal2json prints it (format_type with typmod), e.g. "character varying(20)". */
  readonly type: string;
  /** The type resolved through pg_type (domains followed), which decides the DuckDB type. */
  readonly pg: PgType;
  readonly notNull: boolean;
  /** Dropped on the source, kept in DuckDB (--on-drop-column keep). */
  readonly dropped: boolean;
}

export interface RecordedTable {
  readonly schema: string;
  readonly table: string;
  /** pg_class.oid of the source table when recorded: the catalog is asked about this table, not a name. */
  readonly oid: string;
  readonly identity: ReplicaIdentity;
  /** Names of the key columns (primary key or replica identity index), in key order; empty when keyless. */
  readonly keyNames: readonly string[];
  /** The highest attnum the source table had (dropped ones included): a later column has a higher one. */
  readonly maxAttnum: number;
  readonly columns: readonly RecordedColumn[];
}

export async function ensureColumnsTable(conn: DuckDBConnection): Promise<void> {
  const columnsRef = await columnsTable(conn);
  await conn.run(
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}`,
  );
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${columnsRef} (
       source_schema VARCHAR NOT NULL,
       source_table VARCHAR NOT NULL,
       position INTEGER NOT NULL,
       attnum INTEGER NOT NULL,
       name VARCHAR NOT NULL,
       type VARCHAR NOT NULL,
       pg_type JSON NOT NULL,
       not_null BOOLEAN NOT NULL,
       dropped BOOLEAN NOT NULL,
       key_position INTEGER,
       table_oid VARCHAR NOT NULL,
       replica_identity VARCHAR NOT NULL,
       max_attnum INTEGER NOT NULL,
       updated_at TIMESTAMPTZ NOT NULL)`,
  );
}

export async function readRecorded(
  conn: DuckDBConnection,
  schema: string,
  table: string,
): Promise<RecordedTable | undefined> {
  const columnsRef = await columnsTable(conn);
  const r = await conn.runAndReadAll(
    `SELECT attnum, name, type, CAST(pg_type AS VARCHAR), not_null, dropped, key_position, table_oid, replica_identity, max_attnum
       FROM ${columnsRef} WHERE source_schema = ${quoteLiteral(schema)} AND source_table = ${quoteLiteral(table)}
       ORDER BY position`,
  );
  const rows = r.getRows();
  const first = rows[0];
  if (!first) return undefined;
  const keyed: Array<[number, string]> = [];
  const columns = rows.map((row) => {
    const name = String(row[1]);
    if (row[6] !== null) keyed.push([Number(row[6]), name]);
    return {
      attnum: Number(row[0]),
      name,
      type: String(row[2]),
      pg: JSON.parse(String(row[3])) as PgType,
      notNull: row[4] === true,
      dropped: row[5] === true,
    };
  });
  keyed.sort((a, b) => a[0] - b[0]);
  return {
    schema,
    table,
    oid: String(first[7]),
    identity: String(first[8]) as ReplicaIdentity,
    keyNames: keyed.map((k) => k[1]),
    maxAttnum: Number(first[9]),
    columns,
  };
}

/** Replaces the table's record (call inside the DuckDB transaction that changed the table). */
export async function writeRecorded(
  conn: DuckDBConnection,
  t: RecordedTable,
  was?: RecordedTable,
): Promise<void> {
  const old = was ?? t;
  const columnsRef = await columnsTable(conn);
  await conn.run(
    `DELETE FROM ${columnsRef} WHERE source_schema = ${quoteLiteral(old.schema)} AND source_table = ${quoteLiteral(old.table)}`,
  );
  const lit = quoteLiteral;
  const values = t.columns.map((c, i) => {
    const k = t.keyNames.indexOf(c.name);
    return `(${lit(t.schema)}, ${lit(t.table)}, ${i}, ${c.attnum}, ${lit(c.name)}, ${lit(c.type)}, ${lit(JSON.stringify(c.pg))}, ${c.notNull}, ${c.dropped}, ${k >= 0 && !c.dropped ? k : 'NULL'}, ${lit(t.oid)}, ${lit(t.identity)}, ${t.maxAttnum}, now())`;
  });
  if (values.length > 0) await conn.run(`INSERT INTO ${columnsRef} VALUES ${values.join(', ')}`);
}

/** The SourceTable the DuckDB table is built from: every DuckDB column, dropped-but-kept ones included. */
export function toSourceTable(t: RecordedTable): SourceTable {
  // A kept dropped column is NULL in every row written after the drop, whatever it was declared.
  const columns = t.columns.map((c) => ({
    name: c.name,
    declared: c.type,
    type: c.pg,
    notNull: c.notNull && !c.dropped,
  }));
  const key = t.keyNames.map((n) => t.columns.findIndex((c) => c.name === n && !c.dropped));
  return {
    schema: t.schema,
    table: t.table,
    ...(t.oid !== '' ? { oid: t.oid } : {}),
    columns,
    key: key.some((k) => k < 0) ? [] : key,
    identity: t.identity,
  };
}

/** The columns the source has now (in attnum order: DuckDB adds at the end, as PostgreSQL numbers). */
export function liveColumns(t: RecordedTable): RecordedColumn[] {
  return t.columns.filter((c) => !c.dropped);
}

/**
 * A first record, from the catalog read at startup (the stream starts where that catalog was read):
 * the attnums and the table's OID come from pg_attribute and pg_class.
 */
export async function recordFromCatalog(catalog: SchemaCatalog, source: SourceTable): Promise<RecordedTable> {
  const { oid, columns: now } = await catalog.table(source.schema, source.table);
  const attnumOf = new Map(now.filter((c) => !c.dropped).map((c) => [c.name, c.attnum]));
  const columns = source.columns.map((c) => {
    const attnum = attnumOf.get(c.name);
    if (attnum === undefined)
      throw new InternalError(
        'preflight',
        `column ${shownIdent(c.name)} of ${shownName(source)} not in pg_attribute`,
      );
    return { attnum, name: c.name, type: c.declared, pg: c.type, notNull: c.notNull, dropped: false };
  });
  return {
    schema: source.schema,
    table: source.table,
    oid,
    identity: source.identity,
    keyNames: source.key.map((k) => source.columns[k]?.name ?? ''),
    maxAttnum: now.reduce((m, c) => Math.max(m, c.attnum), 0),
    columns,
  };
}
