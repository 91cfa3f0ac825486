// The order an online copy reads a table in, given twice and kept in agreement here: as SQL (the chunk
// SELECT's WHERE and ORDER BY) and as a JS comparison of key texts (the watermark merge decides with
// it whether a streamed key is at or below the copied part). Both must order every key the same way,
// or a row would be copied twice or never; so only key types whose order walduck can reproduce exactly
// are accepted: integers (compared as bigint), numeric (as exact decimals, NaN last as in PostgreSQL),
// text and varchar (in byte order: the SQL says COLLATE "C", which compares UTF-8 bytes), and uuid.
// Anything else is refused in one line before the copy starts.

import { shownIdent, shownName } from '../wal2json/shown-name.js';
import type { SourceTable } from './catalog.js';
import { quoteIdent, quoteLiteral } from './quote.js';

type Cmp = (a: string, b: string) => number;

const INT: Cmp = (a, b) => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};
const BYTES: Cmp = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
// uuid prints as lower-case hex in one fixed layout: text order is its byte order.
const PLAIN: Cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

const BY_TYPE: Readonly<Record<string, { cmp: Cmp; collate: boolean }>> = {
  int2: { cmp: INT, collate: false },
  int4: { cmp: INT, collate: false },
  int8: { cmp: INT, collate: false },
  numeric: { cmp: compareDecimal, collate: false },
  text: { cmp: BYTES, collate: true },
  varchar: { cmp: BYTES, collate: true },
  uuid: { cmp: PLAIN, collate: false },
};

export interface KeyOrder {
  /** Key texts in the order of `orderBy`. */
  readonly compare: (a: readonly string[], b: readonly string[]) => number;
  /** ORDER BY list. */
  readonly orderBy: string;
  /** WHERE condition: keys above `key` (inclusive false: at or above it). */
  after(key: readonly string[], inclusive: boolean): string;
}

/** Why the table cannot be read in key chunks, or undefined when it can. */
export function keyOrderProblem(t: SourceTable): string | undefined {
  const name = shownName(t);
  if (t.key.length === 0)
    return `table ${name} has no primary key (REPLICA IDENTITY FULL), so walduck cannot copy it in key chunks while it streams: give it a primary key, or replicate into a new DuckDB file`;
  for (const k of t.key) {
    const c = t.columns[k];
    if (!c || !BY_TYPE[c.type.typname])
      return `table ${name} has key column ${c ? shownIdent(c.name) : '?'} of type ${c?.declared ?? '?'}, which an online copy cannot order exactly (it supports smallint, integer, bigint, numeric, text, varchar and uuid keys): replicate into a new DuckDB file`;
  }
  return undefined;
}

/** The table's key order; call only when keyOrderProblem found none. */
export function keyOrder(t: SourceTable): KeyOrder {
  const cols = t.key.map((k) => {
    const c = t.columns[k];
    const by = c ? BY_TYPE[c.type.typname] : undefined;
    if (!c || !by) throw new RangeError(`key column ${k} of ${shownName(t)} has no online-copy order`);
    return { name: quoteIdent(c.name), ...by };
  });
  const expr = (c: { name: string; collate: boolean }) => (c.collate ? `${c.name} COLLATE "C"` : c.name);
  return {
    compare: (a, b) => {
      for (let i = 0; i < cols.length; i++) {
        const d = cols[i]?.cmp(a[i] ?? '', b[i] ?? '') ?? 0;
        if (d !== 0) return d;
      }
      return 0;
    },
    orderBy: cols.map(expr).join(', '),
    after: (key, inclusive) => {
      const values = cols.map((c, i) => {
        const lit = quoteLiteral(key[i] ?? '');
        return c.collate ? `${lit} COLLATE "C"` : lit;
      });
      return `(${cols.map(expr).join(', ')}) ${inclusive ? '>' : '>='} (${values.join(', ')})`;
    },
  };
}

/** Where PostgreSQL puts the special numeric values: -Infinity first, then numbers, Infinity, NaN. */
const SPECIAL: Readonly<Record<string, number>> = { '-Infinity': -1, Infinity: 1, NaN: 2 };

/** Two numeric texts ("-12.50", "3", "NaN", "Infinity") compared exactly, in PostgreSQL's order. */
export function compareDecimal(a: string, b: string): number {
  const sa = SPECIAL[a] ?? 0;
  const sb = SPECIAL[b] ?? 0;
  if (sa !== 0 || sb !== 0) return Math.sign(sa - sb);
  const x = splitDecimal(a);
  const y = splitDecimal(b);
  if (x.zero && y.zero) return 0;
  if (x.neg !== y.neg) return x.neg ? -1 : 1;
  const m = magnitude(x, y);
  return x.neg ? 0 - m : m;
}

interface Dec {
  readonly neg: boolean;
  readonly int: string;
  readonly frac: string;
  readonly zero: boolean;
}

function splitDecimal(s: string): Dec {
  const neg = s.startsWith('-');
  const body = neg || s.startsWith('+') ? s.slice(1) : s;
  const [i = '', f = ''] = body.split('.');
  const int = i.replace(/^0+/, '');
  const frac = f.replace(/0+$/, '');
  return { neg, int, frac, zero: int === '' && frac === '' };
}

function magnitude(x: Dec, y: Dec): number {
  if (x.int.length !== y.int.length) return x.int.length < y.int.length ? -1 : 1;
  if (x.int !== y.int) return x.int < y.int ? -1 : 1;
  const n = Math.max(x.frac.length, y.frac.length);
  const fx = x.frac.padEnd(n, '0');
  const fy = y.frac.padEnd(n, '0');
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}
