// Quoting for every identifier and literal walduck sends to PostgreSQL as SQL (catalog reads, slot
// queries, the snapshot's COPY statements). DuckDB's quoting lives in the sink (sink/sql.ts): the two
// agree today, but each follows its own server's rules and may change alone.

import { WalduckError } from '../protocol/errors.js';

/** A name or value that cannot be written as SQL text at all (PostgreSQL holds no NUL in text). */
export class QuoteError extends WalduckError {
  override readonly name = 'QuoteError';
  readonly code = 'WALDUCK_SQL_NUL';
  readonly phase = 'preflight';
}

/** "name" with embedded double quotes doubled; PostgreSQL cannot hold a NUL in a name. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new QuoteError(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * 'value' with embedded single quotes doubled. Assumes standard_conforming_strings (on by default
 * since PostgreSQL 9.1; a backslash is then an ordinary character).
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new QuoteError(`literal contains a NUL byte: ${JSON.stringify(value)}`);
  return `'${value.replaceAll("'", "''")}'`;
}

/** "schema"."table". */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
