// Quoting for every identifier and literal that reaches DuckDB's SQL: double quotes for identifiers,
// single quotes for strings, each doubled (PostgreSQL's own quoting is in source/quote.ts).

import { WalduckError } from '../protocol/errors.js';

/** A name or value that cannot be written as DuckDB SQL text (a NUL byte). */
export class QuoteError extends WalduckError {
  override readonly name = 'QuoteError';
  readonly code = 'WALDUCK_SQL_NUL';
  readonly phase = 'duckdb';
}

export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new QuoteError(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string literal (DuckDB strings have no backslash escapes). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new QuoteError(`literal contains a NUL byte: ${JSON.stringify(value)}`);
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A name as DuckDB matches it: ASCII letters folded, nothing else ("A" and "a" are one name to
 * DuckDB, "Ä" and "ä" two). JavaScript's toLowerCase() and SQL's lower() fold every letter, and so
 * refused names (two schemas "Ünï" and "ünï") that DuckDB holds apart.
 */
export function duckFold(name: string): string {
  return name.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** duckFold of the DuckDB SQL expression `expr`, in SQL. */
export function duckFoldSql(expr: string): string {
  return `translate(${expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`;
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
