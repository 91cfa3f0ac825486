// PostgreSQL's array text output ("{1,2,NULL}", '{"a,b","c\\"d"}', "{{1,2},{3,4}}"; "[0:1]={1,2}" refused)
// rewritten as a JSON array of strings and nulls, which DuckDB turns into a LIST with
// `CAST(from_json(x, '["VARCHAR"]') AS T[])`: every element keeps its exact text until DuckDB's own
// cast parses it. DuckDB cannot read PostgreSQL's array syntax itself.

import { WalduckError } from '../protocol/errors.js';

export class PgArrayError extends WalduckError {
  override readonly name = 'PgArrayError';
  readonly code = 'WALDUCK_PG_ARRAY';
  readonly phase = 'apply';
  /** The array text is row data: kept aside, shown only with --debug-values (cli/errors.ts). */
  readonly snippet: string;
  constructor(what: string, text: string) {
    super(`${what} (in an array value of ${text.length} characters)`);
    this.snippet = snippet(text);
  }
}

type Nested = string | null | Nested[];

/** PostgreSQL's MAXDIM: no array it prints nests deeper, so deeper text is refused, not recursed into. */
export const MAX_DIMS = 6;

/**
 * `element` rewrites each non-NULL element's text (an element type's own `pre`); `delim` is the
 * element type's typdelim: ',' for every built-in type except box, whose elements contain commas
 * and are separated by ';'.
 */
export function pgArrayToJson(
  text: string,
  element?: (text: string) => string,
  delim: string = ',',
  dims?: number,
): string {
  // PostgreSQL prints a dimension decoration first exactly when a lower bound is not 1: "[0:1]={1,2}".
  // A DuckDB list has no bounds, and PostgreSQL's arrays with other bounds are other values
  // ('[0:1]={1,2}' <> '{1,2}'): refused, never stored without them.
  if (text.startsWith('['))
    throw new PgArrayError(
      'an array whose lower bound is not 1 (PostgreSQL prints it as [m:n]={…}): a DuckDB list keeps no bounds, so it would be stored as another value',
      text,
    );
  const [value, end] = parseArray(text, 0, 1, element, delim, dims);
  if (end !== text.length) throw new PgArrayError(`trailing characters after array literal`, text);
  return JSON.stringify(value);
}

function parseArray(
  s: string,
  start: number,
  depth: number,
  element: ((text: string) => string) | undefined,
  delim: string,
  dims: number | undefined,
): [Nested[], number] {
  if (s[start] !== '{') throw new PgArrayError(`expected '{' at ${start}`, s);
  if (depth > MAX_DIMS)
    throw new PgArrayError(`array nests deeper than PostgreSQL's ${MAX_DIMS} dimensions`, s);
  const out: Nested[] = [];
  let i = start + 1;
  if (s[i] === '}') return [out, i + 1];
  for (;;) {
    while (s[i] === ' ') i++;
    const c = s[i];
    if (c === '{') {
      if (dims !== undefined && depth >= dims) throw otherDims(s, dims);
      const [inner, next] = parseArray(s, i, depth + 1, element, delim, dims);
      out.push(inner);
      i = next;
    } else if (c === '"') {
      if (dims !== undefined && depth < dims) throw otherDims(s, dims);
      let v = '';
      i++;
      for (;;) {
        const ch = s[i];
        if (ch === undefined) throw new PgArrayError(`unterminated quoted element`, s);
        if (ch === '"') break;
        if (ch === '\\') {
          i++;
          const esc = s[i];
          if (esc === undefined) throw new PgArrayError(`dangling backslash`, s);
          v += esc;
        } else v += ch;
        i++;
      }
      out.push(element ? element(v) : v);
      i++;
    } else {
      if (dims !== undefined && depth < dims) throw otherDims(s, dims);
      let j = i;
      while (j < s.length && s[j] !== delim && s[j] !== '}') j++;
      const raw = trimPg(s.slice(i, j));
      if (raw === '') throw new PgArrayError(`empty element at ${i}`, s);
      out.push(raw.toUpperCase() === 'NULL' ? null : element ? element(raw) : raw);
      i = j;
    }
    while (s[i] === ' ') i++;
    if (s[i] === delim) {
      i++;
      continue;
    }
    if (s[i] === '}') return [out, i + 1];
    throw new PgArrayError(`expected '${delim}' or '}' at ${i}`, s);
  }
}

/**
 * PostgreSQL does not hold a column's values to its declared dimensions (pg_attribute.attndims): an
 * int[] column takes '{{1,2},{3,4}}', an int[][] one '{1,2}'. The DuckDB list is nested exactly that
 * many times, and DuckDB's from_json read a deeper value's inner lists as their JSON text and a
 * shallower one's elements as NULLs, silently.
 */
function otherDims(s: string, dims: number): PgArrayError {
  return new PgArrayError(
    `an array value whose dimensions are not the column's ${dims} (pg_attribute.attndims, which PostgreSQL does not enforce): DuckDB's list nested ${dims} time(s) would hold another value`,
    s,
  );
}

/**
 * PostgreSQL's array_isspace: only ASCII space, \t, \n, \r, \v, \f. It prints an element with other
 * (Unicode) white space unquoted, so JS's trim(), which strips U+00A0, U+3000, U+FEFF, …, would
 * change or empty it.
 */
function trimPg(s: string): string {
  return s.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
}

function snippet(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
