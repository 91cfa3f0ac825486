// The public API of the sink layer (`walduck/sink`): the contract a sink keeps (ChangeSink), the DuckDB
// implementation of it, and the types of the source-table description it is opened with (read them
// with `readSourceTables` from the root entry). Everything else in src/sink is internal and may
// change freely. This entry loads @duckdb/node-api.

export type { PgType, ReplicaIdentity, SourceColumn, SourceTable } from '../source/catalog.js';
export { DuckDbSink } from './duckdb-sink.js';
export { DuckFileError } from './errors.js';
export type { MoneyLocale } from './money-locale.js';
export type { ChangeSink } from './sink.js';
export type { SinkOptions as DuckDbSinkOptions, SinkStats } from './sink-options.js';
