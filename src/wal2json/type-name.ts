// How wal2json 2.5 writes a column's type name, compared with the catalog's format_type text.
//
// wal2json writes format_type's text as a JSON string, except when that text starts with a double
// quote and does not end in "]": then it writes the text as it is, taking format_type's quotes for
// JSON's. So `"char"`, `"user"` or `"Mood"` (a keyword, or a name needing quotes, in a schema on the
// search path) arrive as the strings char, user and Mood; `"Odd S"."My Enum"` is not JSON at all. A
// type the catalog prints quoted must therefore be compared with what wal2json makes of it, or every
// change of such a column looks like a type change.

/** The type name as walduck's decoder reads it from wal2json, given the catalog's format_type text. */
export function typeAsWal2jsonWrites(formatType: string): string {
  if (!formatType.startsWith('"') || formatType.endsWith(']')) return formatType;
  try {
    const read: unknown = JSON.parse(formatType);
    return typeof read === 'string' ? read : formatType;
  } catch {
    return formatType; // not JSON: the decoder stops at such a change before anything compares it
  }
}

/** Whether the stream's type name is the catalog's (format_type) type. */
export function sameTypeName(stream: string, catalog: string): boolean {
  return stream === catalog || stream === typeAsWal2jsonWrites(catalog);
}

/** False for a type name wal2json writes as broken JSON ("Odd S"."My Enum", "a""b"): see above. */
export function wal2jsonWritesTypeAsJson(formatType: string): boolean {
  return (
    !formatType.startsWith('"') || formatType.endsWith(']') || typeAsWal2jsonWrites(formatType) !== formatType
  );
}
