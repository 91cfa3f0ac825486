// What the source catalog says of a table, as every reader of it and the sink share it: a column's
// type (domains resolved), the columns, the key that identifies a row, and the replica identity that
// decides what wal2json can tell us about updated and deleted rows; and CatalogError, how a start that
// cannot use the tables it was given stops. Apart from the readers (source-tables.ts picks the tables,
// table-columns.ts reads their columns, table-name.ts reads --tables) so that each, and each of the
// many modules that only need these shapes, imports them without importing the others.

import { WalduckError } from '../protocol/errors.js';
import type { TableRef } from '../wal2json/change.js';

export type Rows = readonly (readonly (string | null)[])[];
/** Runs one SQL statement on the source and returns its rows as text (simple query protocol). */
export type QueryFn = (sql: string) => Promise<Rows>;

/** A column's type as the catalog describes it; the sink maps it to a DuckDB type. */
export interface PgType {
  /** Base type name in pg_catalog after resolving domains (e.g. "int4", "numeric", "_int4" for arrays). */
  readonly typname: string;
  readonly typmod: number;
  /** pg_type.typtype of the base type: b base, c composite, e enum, r range, m multirange, p pseudo. */
  readonly typtype: string;
  /** For arrays: the element type (domains resolved), and the declared dimension count (at least 1). */
  readonly element?: PgType;
  readonly dims?: number;
  /** pg_type.typdelim: what separates this type's elements in array text (';' for box, else ','). */
  readonly delim?: string;
}

export interface SourceColumn {
  readonly name: string;
  /** The declared type as PostgreSQL prints it (format_type), e.g. "numeric(10,2)", "text[]". */
  readonly declared: string;
  readonly type: PgType;
  readonly notNull: boolean;
}

export type ReplicaIdentity = 'default' | 'full' | 'index' | 'nothing';

export interface SourceTable extends TableRef {
  /** pg_class oid (text); absent for tables described by hand (tests). */
  readonly oid?: string;
  /** A partitioned table (relkind 'p'): rows live in its leaf partitions, replicated as this one table. */
  readonly partitioned?: boolean;
  readonly columns: readonly SourceColumn[];
  /** Indexes into `columns` of the primary key, else of the replica identity index; empty when neither. */
  readonly key: readonly number[];
  readonly identity: ReplicaIdentity;
}

export class CatalogError extends WalduckError {
  override readonly name = 'CatalogError';
  readonly phase = 'preflight';
  constructor(
    message: string,
    readonly code: 'WALDUCK_UNKNOWN_TABLE' | 'WALDUCK_NO_IDENTITY' | 'WALDUCK_NO_TABLES' | 'WALDUCK_CATALOG',
  ) {
    super(message);
  }
}

/** A table all-tables mode skips for want of a row identity (logged, not a partition), with its oid. */
export interface SkippedTable extends TableRef {
  readonly oid: string;
}
