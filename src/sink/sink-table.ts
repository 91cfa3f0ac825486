// A table of the sink as its hooks (sink-renames.ts, sink-copies.ts, sink-reshape.ts, sink-snapshot.ts,
// sink-routing.ts) see it, and what they may do in the sink's open DuckDB transaction (SinkHost): the
// sink (duckdb-sink.ts) owns both.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { SourceTable } from '../source/catalog.js';
import type { TableApplier } from './apply.js';
import type { SchemaWatch } from './schema-follow.js';
import type { TableStage } from './stage.js';
import type { TargetTable } from './target.js';

export interface Table {
  readonly stage: TableStage;
  /** keyOf(this), made once: an UPDATE or DELETE marks the table touched per change. */
  readonly key: string;
  readonly applier: TableApplier;
  /** The recorded source schema and the per-change check against it (when following schema changes). */
  readonly watch?: SchemaWatch;
}

export const tableKey = (schema: string, table: string) => `${schema}\u0000${table}`;
/** A table's key in the map: its source's name (a leaf's change resolves to its root's table). */
export const keyOf = (t: { readonly applier: TableApplier }) =>
  tableKey(t.applier.target.source.schema, t.applier.target.source.table);

/** The sink's tables and open DuckDB transaction, for its hooks. */
export interface SinkHost {
  readonly conn: DuckDBConnection;
  /** The tables by key (keyOf); a hook that reshapes one replaces it here. */
  readonly tables: Map<string, Table>;
  /** Tables the open DuckDB transaction has updated or deleted rows of. */
  readonly touched: Set<string>;
  /** Whether a DuckDB transaction is open. */
  inTransaction(): boolean;
  /** Opens the DuckDB transaction if none is open. */
  begin(): Promise<void>;
  /** The table's staged rows leave the sink's counts (the caller flushes them next). */
  unstage(t: Table): void;
  /** One table's staged rows into DuckDB now, before its shape changes. */
  flushTable(t: Table): Promise<void>;
  /** Keeps the tables as they were at the last commit: a rollback puts them back. */
  keepCommitted(): void;
  describe(source: SourceTable): TargetTable;
  build(target: TargetTable, watch: SchemaWatch | undefined): Promise<Table>;
}
