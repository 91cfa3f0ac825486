// A source table's DuckDB counterpart: where it lands, its column types, and the SQL pieces the apply
// step reuses for every batch (built once, from quoted identifiers only).

import type { DuckDBConnection } from '@duckdb/node-api';
import { WalduckError } from '../protocol/errors.js';
import type { SourceTable } from '../source/catalog.js';
import type { TableRef } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { parseExactState, reachable } from './exact-numeric.js';
import { duckFold, duckFoldSql, qualified, quoteIdent, quoteLiteral } from './sql.js';
import { type ColumnMapping, type ExactState, type MapOptions, mapType } from './type-map.js';

export interface TargetTable {
  readonly source: SourceTable;
  /** The attached database (DuckDB's catalog) the table lives in. */
  readonly catalog: string;
  readonly schema: string;
  readonly table: string;
  /** `"catalog"."schema"."table"`: never ambiguous, whatever the file and schemas are called. */
  readonly name: string;
  readonly mappings: readonly ColumnMapping[];
  /** Column position by source column name. */
  readonly position: ReadonlyMap<string, number>;
  /** Indexes of the columns that identify a row; all columns for a keyless FULL-identity table. */
  readonly key: readonly number[];
  readonly keyless: boolean;
}

export class TargetError extends WalduckError {
  override readonly name = 'TargetError';
  readonly code = 'WALDUCK_TARGET';
  readonly phase = 'duckdb';
}

/** PostgreSQL's `public` lands in DuckDB's default schema `main`; other schemas keep their name. */
export function targetSchema(pgSchema: string): string {
  return pgSchema === 'public' ? 'main' : pgSchema;
}

export const STATE_SCHEMA = 'walduck';

/**
 * Two columns of `source` that would be one DuckDB column, said, or undefined: DuckDB matches
 * identifiers case-insensitively even when quoted ("A" and "a").
 */
export function columnCollision(source: SourceTable): string | undefined {
  const seen = new Map<string, string>();
  for (const c of source.columns) {
    const other = seen.get(duckFold(c.name));
    if (other !== undefined)
      return `table ${shownName(source)} has columns ${shownIdent(other)} and ${shownIdent(c.name)}, which DuckDB cannot tell apart (identifiers are case-insensitive there)`;
    seen.set(duckFold(c.name), c.name);
  }
  return undefined;
}

export function describeTarget(
  source: SourceTable,
  catalog: string,
  mapOptions: MapOptions = {},
  /** Under --numeric exact: the state each numeric column has in DuckDB now, by column name. */
  exactStates?: ReadonlyMap<string, ExactState>,
): TargetTable {
  const schema = targetSchema(source.schema);
  if (duckFold(schema) === STATE_SCHEMA) {
    throw new TargetError(
      `source schema ${shownIdent(source.schema)} would land in walduck's own DuckDB schema "${STATE_SCHEMA}" (DuckDB names are case-insensitive), where walduck keeps its replication state: leave ${shownName(source)} out of --tables, or rename the schema on the source`,
    );
  }
  const collision = columnCollision(source);
  if (collision !== undefined)
    throw new TargetError(
      `${collision}: leave the table out by naming the tables to follow with --tables (a column renamed at the source does not rename it in the changes already in WAL)`,
    );
  const keyless = source.key.length === 0;
  return {
    source,
    catalog,
    schema,
    table: source.table,
    name: `${quoteIdent(catalog)}.${qualified(schema, source.table)}`,
    mappings: source.columns.map((c, i) => {
      const exactState = exactStates?.get(c.name);
      // A column that identifies rows is stored exactly or refused (pgNumericKeyAsDouble).
      const key = keyless || source.key.includes(i);
      return mapType(c.type, {
        ...mapOptions,
        ...(exactState ? { exactState } : {}),
        ...(key ? { key } : {}),
      });
    }),
    position: new Map(source.columns.map((c, i) => [c.name, i])),
    key: keyless ? source.columns.map((_, i) => i) : source.key,
    keyless,
  };
}

/**
 * DuckDB matches names case-insensitively, and PostgreSQL's public lands in DuckDB's main: two chosen
 * tables that would land in one DuckDB table ("Orders" and orders, public.t and main.t) are refused,
 * naming both, before anything is created.
 */
export function refuseCollisions(targets: readonly TargetTable[]): void {
  refuseSourceCollisions(targets.map((t) => t.source));
}

/** Which DuckDB table a DuckDB schema and table name land in, as DuckDB matches names: case-insensitively. */
export function landingKey(schema: string, table: string): string {
  return `${duckFold(schema)}\u0000${duckFold(table)}`;
}

/**
 * refuseCollisions for source tables not described yet: the table set checks the chosen tables with
 * it before it records anything (a start refused later, at the sink, had already recorded both).
 */
export function refuseSourceCollisions(tables: readonly TableRef[]): void {
  const seen = new Map<string, TableRef>();
  for (const t of tables) {
    const schema = targetSchema(t.schema);
    const k = landingKey(schema, t.table);
    const other = seen.get(k);
    if (other) {
      throw new TargetError(
        `source tables ${shownName(other)} and ${shownName(t)} would both land in DuckDB table ${shownName({ schema, table: t.table })} (DuckDB names are case-insensitive, and PostgreSQL's public schema lands in DuckDB's main): replicate them into separate DuckDB files (one --tables list each)`,
      );
    }
    seen.set(k, t);
  }
}

/**
 * The DuckDB table a name lands in ("schema.table" as DuckDB spells it) when it exists and holds
 * rows: a table joining the replica there would replace or mix with rows walduck did not write for it.
 */
export async function heldRows(
  conn: DuckDBConnection,
  catalog: string,
  schema: string,
  table: string,
): Promise<string | undefined> {
  const found = await conn.runAndReadAll(
    `SELECT table_schema, table_name FROM information_schema.tables
      WHERE table_catalog = ${quoteLiteral(catalog)} AND ${duckFoldSql('table_schema')} = ${quoteLiteral(duckFold(schema))} AND ${duckFoldSql('table_name')} = ${quoteLiteral(duckFold(table))}`,
  );
  const row = found.getRows()[0];
  if (!row) return undefined;
  const [s, t] = [String(row[0]), String(row[1])];
  const rows = await conn.runAndReadAll(
    `SELECT EXISTS (SELECT 1 FROM ${quoteIdent(catalog)}.${qualified(s, t)})`,
  );
  return rows.getRows()[0]?.[0] === true ? shownName({ schema: s, table: t }) : undefined;
}

/**
 * Creates the target when missing; when present, checks it still has the source's columns and types.
 * Returns the target as DuckDB holds it: under --numeric exact a numeric column may have been widened
 * (exact-numeric.ts), and its type in DuckDB is the record of that.
 */
export async function ensureTarget(conn: DuckDBConnection, t: TargetTable): Promise<TargetTable> {
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(t.catalog)}.${quoteIdent(t.schema)}`);
  // Case-insensitively, as DuckDB resolves names: "Sales".a and sales.b share the DuckDB schema the
  // first created ("Sales"), so an exact match missed sales.b at the next start and CREATE TABLE
  // failed with DuckDB's "already exists" (refuseCollisions keeps two chosen tables from matching here).
  const existing = await conn.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_catalog = ${quoteLiteral(t.catalog)} AND ${duckFoldSql('table_schema')} = ${quoteLiteral(duckFold(t.schema))} AND ${duckFoldSql('table_name')} = ${quoteLiteral(duckFold(t.table))}
      ORDER BY ordinal_position`,
  );
  const have = existing.getRows().map((r) => [String(r[0]), String(r[1])] as const);
  if (have.length === 0) {
    // No PRIMARY KEY: DuckDB's ART index checks uniqueness eagerly within a transaction, so a batch
    // that deletes and re-inserts a key would fail. Keys are enforced by the source.
    const cols = t.source.columns
      .map((c, i) => `${quoteIdent(c.name)} ${t.mappings[i]?.duckType}`)
      .join(', ');
    await conn.run(`CREATE TABLE ${t.name} (${cols})`);
    return t;
  }
  const want = t.source.columns.map((c, i) => [c.name, t.mappings[i]?.duckType ?? ''] as const);
  const states = new Map<string, ExactState>();
  const mismatch = want.find(([name, type], i) => {
    const found = have[i]?.[1] ?? '';
    if (have[i]?.[0] !== name) return true;
    const exact = t.mappings[i]?.exact;
    const state = exact ? parseExactState(found) : undefined;
    if (exact && state && reachable(exact, state)) {
      states.set(name, state);
      return false;
    }
    return normalizeType(found) !== normalizeType(type);
  });
  if (mismatch || have.length !== want.length) {
    throw new TargetError(
      `DuckDB table ${shownName(t)} does not match the source (${describe(want)} expected, ${describe(have)} found): the source's DDL changed; alter the DuckDB table to match or start a new DuckDB file`,
    );
  }
  return states.size === 0 ? t : withExactStates(t, states);
}

/** The same target with numeric columns in the given states (--numeric exact). */
export function withExactStates(t: TargetTable, states: ReadonlyMap<string, ExactState>): TargetTable {
  const mappings = t.source.columns.map((c, i) => {
    const m = t.mappings[i] as ColumnMapping;
    const state = states.get(c.name);
    return state && m.exact ? mapType(c.type, { numeric: 'exact', exactState: state }) : m;
  });
  return { ...t, mappings };
}

/**
 * A column type as DuckDB's information_schema spells it, made comparable with the type walduck
 * declares: DuckDB says TIMESTAMP WITH TIME ZONE where we write TIMESTAMPTZ, also as a list element
 * (TIMESTAMP WITH TIME ZONE[][]); without the list case a timestamptz[] column was refused as a
 * mismatch on every run after the first.
 */
export function normalizeType(t: string): string {
  return t
    .replace(/\s+/g, '')
    .toUpperCase()
    .replace(/^TIMESTAMPWITHTIMEZONE(?=(\[\])*$)/, 'TIMESTAMPTZ')
    .replace(/^TIMEWITHTIMEZONE(?=(\[\])*$)/, 'TIMETZ');
}

function describe(cols: ReadonlyArray<readonly [string, string]>): string {
  return cols.map(([n, t]) => `${n} ${t}`).join(', ');
}
