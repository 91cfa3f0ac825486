// DuckDB's node packages, loaded with require() rather than import. Both are CommonJS: an ESM import
// of them makes Node scan every file of @duckdb/node-api with its CommonJS export lexer to find the
// named exports (the package re-exports ~40 files). That scan, and V8 optimizing the lexer as it
// gets hot, cost ~0.2 s of each walduck start-up, measured against `require` of the same package
// (0.54 s against 0.31 s for a Node process that loads it, on 2 cores). require() reads
// module.exports directly: the same objects, without the scan.
//
// Every value the sink takes from these packages comes from here; types still come from the
// packages themselves (`import type`, which is erased).

import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';
import type NodeBindings from '@duckdb/node-bindings';

const require = createRequire(import.meta.url);
const api = require('@duckdb/node-api') as typeof NodeApi;

/** The raw C API (vector copies of the typed fill): node-api's own dependency, same version. */
export const bindings = require('@duckdb/node-bindings') as typeof NodeBindings;

export const {
  BIGINT,
  BOOLEAN,
  DATE,
  DECIMAL,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  SMALLINT,
  TIMESTAMP,
  TIMESTAMPTZ,
  VARCHAR,
} = api;
export type DuckDBDataChunk = NodeApi.DuckDBDataChunk;
export type DuckDBInstance = NodeApi.DuckDBInstance;
