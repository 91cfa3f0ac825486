// The public API of the sink layer (`walduck/sink`): the contract a sink keeps (ChangeSink), the DuckDB
// implementation of it, and the source-table description it is opened with. Everything else in
// src/sink is internal and may change freely. This entry loads @duckdb/node-api.

export type { QueryFn, ReplicaIdentity, Rows, SourceColumn, SourceTable } from './catalog.js';
export { CatalogError, parseTableName, readSourceTables } from './catalog.js';
export type { SinkOptions as DuckDbSinkOptions, SinkStats } from './duckdb-sink.js';
export { DuckDbSink } from './duckdb-sink.js';
export type { ChangeSink } from './sink.js';
export type { PgType } from './type-map.js';
