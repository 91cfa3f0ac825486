// The one place where names and values become replication-command text. The replication grammar
// (repl_gram.y) takes identifiers in double quotes (with "" for a quote) and string literals in single
// quotes (with '' for a quote; backslash is not special). NUL cannot be sent at all.

import { ArgumentError } from '../errors.js';

function noNul(what: string, s: string): void {
  if (s.includes('\0')) throw new ArgumentError(`${what} contains a NUL character`);
}

/** "name" with embedded quotes doubled. */
export function quoteIdentifier(name: string, what = 'identifier'): string {
  noNul(what, name);
  if (name === '') throw new ArgumentError(`${what} is empty`);
  return `"${name.replace(/"/g, '""')}"`;
}

/** 'value' with embedded quotes doubled. */
export function quoteLiteral(value: string, what = 'value'): string {
  noNul(what, value);
  return `'${value.replace(/'/g, "''")}'`;
}
