// PostgreSQL's array text output ("{1,2,NULL}", '{"a,b","c\\"d"}', "{{1,2},{3,4}}", "[0:1]={1,2}")
// rewritten as a JSON array of strings and nulls, which DuckDB turns into a LIST with
// `CAST(from_json(x, '["VARCHAR"]') AS T[])`: every element keeps its exact text until DuckDB's own
// cast parses it. DuckDB cannot read PostgreSQL's array syntax itself.

import { WalduckError } from '../protocol/errors.js';

export class PgArrayError extends WalduckError {
  override readonly name = 'PgArrayError';
  readonly code = 'WALDUCK_PG_ARRAY';
  readonly phase = 'apply';
}

type Nested = string | null | Nested[];

export function pgArrayToJson(text: string): string {
  let i = 0;
  // Non-default lower bounds print a dimension decoration first: "[0:1]={1,2}". DuckDB lists start at 1.
  if (text.startsWith('[')) {
    const eq = text.indexOf('=');
    if (eq < 0) throw new PgArrayError(`malformed array literal: ${snippet(text)}`);
    i = eq + 1;
  }
  const [value, end] = parseArray(text, i);
  if (end !== text.length)
    throw new PgArrayError(`trailing characters after array literal: ${snippet(text)}`);
  return JSON.stringify(value);
}

function parseArray(s: string, start: number): [Nested[], number] {
  if (s[start] !== '{') throw new PgArrayError(`expected '{' at ${start}: ${snippet(s)}`);
  const out: Nested[] = [];
  let i = start + 1;
  if (s[i] === '}') return [out, i + 1];
  for (;;) {
    while (s[i] === ' ') i++;
    const c = s[i];
    if (c === '{') {
      const [inner, next] = parseArray(s, i);
      out.push(inner);
      i = next;
    } else if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        const ch = s[i];
        if (ch === undefined) throw new PgArrayError(`unterminated quoted element: ${snippet(s)}`);
        if (ch === '"') break;
        if (ch === '\\') {
          i++;
          const esc = s[i];
          if (esc === undefined) throw new PgArrayError(`dangling backslash: ${snippet(s)}`);
          v += esc;
        } else v += ch;
        i++;
      }
      out.push(v);
      i++;
    } else {
      let j = i;
      while (j < s.length && s[j] !== ',' && s[j] !== '}') j++;
      const raw = s.slice(i, j).trim();
      if (raw === '') throw new PgArrayError(`empty element at ${i}: ${snippet(s)}`);
      out.push(raw.toUpperCase() === 'NULL' ? null : raw);
      i = j;
    }
    while (s[i] === ' ') i++;
    if (s[i] === ',') {
      i++;
      continue;
    }
    if (s[i] === '}') return [out, i + 1];
    throw new PgArrayError(`expected ',' or '}' at ${i}: ${snippet(s)}`);
  }
}

function snippet(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
