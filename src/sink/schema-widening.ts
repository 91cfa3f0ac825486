// Which source type changes DuckDB can follow in place without losing or altering a value
// (schema-change.ts lists them). Apart from planning (schema-plan.ts): a pure rule over two types and
// the type map, tested on its own.

import type { PgType } from '../source/catalog.js';
import { type MapOptions, mapType, numericPrecision } from './type-map.js';

const INT_RANK: Readonly<Record<string, number>> = { int2: 1, int4: 2, int8: 3 };
const TEXT = new Set(['varchar', 'text']);

/**
 * Whether DuckDB can follow a type change without losing or altering a value PostgreSQL kept:
 * 'same' (DuckDB's type does not change), 'alter' (a plain DuckDB cast), 'timestamptz' (a cast read
 * in a time zone), or undefined (refuse).
 */
export function widening(
  from: PgType,
  to: PgType,
  mo: MapOptions = {},
): 'same' | 'alter' | 'timestamptz' | undefined {
  if (from.element || to.element) return undefined;
  const fromDuck = mapType(from, mo).duckType;
  const toDuck = mapType(to, mo).duckType;
  const a = from.typname;
  const b = to.typname;
  const ra = INT_RANK[a];
  const rb = INT_RANK[b];
  if (ra !== undefined && rb !== undefined)
    return rb >= ra ? (fromDuck === toDuck ? 'same' : 'alter') : undefined;
  if (TEXT.has(a) && TEXT.has(b)) {
    // varchar(n) -> varchar(m >= n), varchar or text; text -> varchar only without a length.
    const la = a === 'text' || from.typmod < 0 ? Infinity : from.typmod;
    const lb = b === 'text' || to.typmod < 0 ? Infinity : to.typmod;
    return lb >= la ? 'same' : undefined;
  }
  if (a === 'numeric' && b === 'numeric') {
    const pa = numericPrecision(from.typmod);
    const pb = numericPrecision(to.typmod);
    if (!pa || !pb) return pa === pb && fromDuck === toDuck ? 'same' : undefined;
    if (pb.scale !== pa.scale || pb.precision < pa.precision) return undefined;
    // DECIMAL above 38 digits is DOUBLE in DuckDB: not exact.
    if (!toDuck.startsWith('DECIMAL')) return undefined;
    return fromDuck === toDuck ? 'same' : 'alter';
  }
  if (a === 'timestamp' && b === 'timestamptz') return 'timestamptz';
  // The same base type with the same modifier (a domain swapped for another over it): values unchanged.
  if (a === b && from.typmod === to.typmod && fromDuck === toDuck) return 'same';
  return undefined;
}
