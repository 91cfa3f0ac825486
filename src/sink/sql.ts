// Quoting for every identifier and literal that reaches SQL, DuckDB's or PostgreSQL's (both follow
// the SQL standard here: double quotes for identifiers, single quotes for strings, each doubled).

export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string literal; assumes standard_conforming_strings (PostgreSQL's default since 9.1; always in DuckDB). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error(`literal contains a NUL byte: ${JSON.stringify(value)}`);
  return `'${value.replaceAll("'", "''")}'`;
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
