// The fillers of the number columns (SMALLINT, INTEGER, BIGINT, DOUBLE, DECIMAL(p <= 18, s)) and of
// BOOLEAN: each reads only the plain text PostgreSQL prints for its type and writes the value DuckDB's
// own cast of that text gives (typed-fill.ts says why that is exact). Apart from the temporal and text
// fillers: each family has its own forms to know.

import type { DuckDBType } from '@duckdb/node-api';
import { BIGINT, BOOLEAN, DECIMAL, DOUBLE } from './duckdb-api.js';
import { type Filler, setInt53, setInt64Text, smallInt, ZERO } from './filler.js';

export function intFiller(
  duckType: string,
  type: DuckDBType,
  bytes: 2 | 4,
  min: number,
  max: number,
): Filler {
  return {
    duckType,
    type,
    bytes,
    write(view, i, text) {
      const neg = text.charCodeAt(0) === 45;
      const a = smallInt(text, neg ? 1 : 0, text.length);
      if (Number.isNaN(a)) return false;
      const v = neg ? -a : a;
      if (v < min || v > max) return false;
      if (bytes === 2) view.setInt16(i * 2, v, true);
      else view.setInt32(i * 4, v, true);
      return true;
    },
  };
}

export const bigintFiller: Filler = {
  duckType: 'BIGINT',
  type: BIGINT,
  bytes: 8,
  write(view, i, text) {
    const neg = text.charCodeAt(0) === 45;
    return setInt64Text(view, i * 8, text, neg, neg ? 1 : 0);
  },
};

export const booleanFiller: Filler = {
  duckType: 'BOOLEAN',
  type: BOOLEAN,
  bytes: 1,
  write(view, i, text) {
    if (text === 'true') view.setUint8(i, 1);
    else if (text === 'false') view.setUint8(i, 0);
    else return false;
    return true;
  },
};

/**
 * float8's text: PostgreSQL prints the shortest text that reads back as the same double (at most 17
 * significant digits), NaN, Infinity or -Infinity. Both JS and DuckDB read decimal text correctly
 * rounded, so for such text they agree; longer or other forms go to DuckDB's cast.
 */
const DOUBLE_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function significantDigits(text: string): number {
  let n = 0;
  let leading = true;
  for (let p = 0; p < text.length; p++) {
    const c = text.charCodeAt(p);
    if (c === 101 || c === 69) break; // e, E
    if (c < ZERO || c > ZERO + 9) continue;
    if (leading && c === ZERO) continue;
    leading = false;
    n++;
  }
  return n;
}

export const doubleFiller: Filler = {
  duckType: 'DOUBLE',
  type: DOUBLE,
  bytes: 8,
  write(view, i, text) {
    let v: number;
    if (text === 'NaN') v = Number.NaN;
    else if (text === 'Infinity') v = Number.POSITIVE_INFINITY;
    else if (text === '-Infinity') v = Number.NEGATIVE_INFINITY;
    else {
      if (text.length > 32 || !DOUBLE_TEXT.test(text) || significantDigits(text) > 17) return false;
      v = Number(text);
      // Overflow and underflow: leave the edge to DuckDB's cast.
      if (!Number.isFinite(v) || (v === 0 && /[1-9]/.test(text.split(/[eE]/)[0] ?? ''))) return false;
    }
    view.setFloat64(i * 8, v, true);
    return true;
  },
};

/**
 * DECIMAL(p <= 18, s): "-?digits[.digits]" with at most p - s integer digits and at most s fraction
 * digits (PostgreSQL prints exactly s for numeric(p,s)), as the integer value × 10^s in 2, 4 or 8
 * bytes, DuckDB's storage for those widths. More fraction digits (DuckDB's cast would round) or an
 * exponent go to the cast.
 */
export function decimalFiller(precision: number, scale: number): Filler {
  const bytes: 2 | 4 | 8 = precision <= 4 ? 2 : precision <= 9 ? 4 : 8;
  return {
    duckType: `DECIMAL(${precision},${scale})`,
    type: DECIMAL(precision, scale),
    bytes,
    write(view, i, text) {
      const n = text.length;
      const neg = text.charCodeAt(0) === 45;
      let p = neg ? 1 : 0;
      const intStart = p;
      while (p < n) {
        const c = text.charCodeAt(p) - ZERO;
        if (c < 0 || c > 9) break;
        p++;
      }
      const intEnd = p;
      if (intEnd === intStart) return false;
      let fracStart = p;
      if (p < n) {
        if (text.charCodeAt(p) !== 46) return false;
        p++;
        fracStart = p;
        while (p < n) {
          const c = text.charCodeAt(p) - ZERO;
          if (c < 0 || c > 9) return false;
          p++;
        }
        if (p === fracStart || p - fracStart > scale) return false;
      }
      const fracEnd = p;
      // The integer digits past leading zeros must fit p - s (DuckDB's cast refuses more).
      let lead = intStart;
      while (lead < intEnd && text.charCodeAt(lead) === ZERO) lead++;
      if (intEnd - lead > precision - scale) return false;
      if (intEnd - lead + scale <= 15) {
        // At most 15 digits: the scaled integer is exact as a double, made without a string.
        let a = 0;
        for (let q = lead; q < intEnd; q++) a = a * 10 + text.charCodeAt(q) - ZERO;
        for (let q = fracStart; q < fracEnd; q++) a = a * 10 + text.charCodeAt(q) - ZERO;
        for (let k = fracEnd - fracStart; k < scale; k++) a *= 10;
        const v = neg ? -a : a;
        if (bytes === 8) setInt53(view, i * 8, v);
        else if (bytes === 2) view.setInt16(i * 2, v, true);
        else view.setInt32(i * 4, v, true);
        return true;
      }
      const fraction = text.slice(fracStart, fracEnd);
      const digits = `${text.slice(lead, intEnd)}${fraction}${'0'.repeat(scale - fraction.length)}` || '0';
      if (bytes === 8) return setInt64Text(view, i * 8, neg ? `-${digits}` : digits, neg, neg ? 1 : 0);
      const a = smallInt(digits, 0, digits.length);
      if (Number.isNaN(a)) return false;
      const v = neg ? -a : a;
      if (bytes === 2) view.setInt16(i * 2, v, true);
      else view.setInt32(i * 4, v, true);
      return true;
    },
  };
}
