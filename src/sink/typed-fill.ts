// Typed DuckDB vectors filled straight from PostgreSQL's exact text, for the common column types:
// each value is parsed in JS into the vector's own binary form (int16/32/64, double, the days of a
// DATE, the microseconds of a TIMESTAMP, the scaled integer of a DECIMAL) and the column goes to
// DuckDB in one copy, instead of one VARCHAR string per value and DuckDB's cast inside the Appender.
//
// Exactness: a parser accepts only the plain forms PostgreSQL prints (ISO dates, AD years of four
// digits, at most 6 fraction digits, a DECIMAL's declared scale...) and computes the value DuckDB's
// own cast of that text gives. Anything else (BC, infinity, a value out of range, a form it does not
// know) makes the whole column of that chunk go as VARCHAR, cast by DuckDB exactly as before. So a
// fast value is never a guess: it is either the cast's result or not used. The property test
// (test/property/sink/typed-fill.test.ts) checks the parsers against DuckDB's cast.

import type { DuckDBDataChunk, DuckDBType } from '@duckdb/node-api';
import {
  BIGINT,
  BOOLEAN,
  bindings,
  DATE,
  DECIMAL,
  DOUBLE,
  INTEGER,
  SMALLINT,
  TIMESTAMP,
  TIMESTAMPTZ,
  VARCHAR,
} from './duckdb-api.js';
import { daysFromCivil } from './pg-temporal.js';
import type { ColumnMapping } from './type-map.js';

/** How a column's text becomes its vector; `bytes` is the width of one value. */
export interface Filler {
  readonly duckType: string;
  readonly type: DuckDBType;
  readonly bytes: 1 | 2 | 4 | 8 | 16;
  /**
   * Writes the value of `text` at row `i` of `view` (little-endian); false when the text is not in
   * the plain form this filler knows (the chunk's column then goes as VARCHAR). Writes nothing when
   * it returns false: a staged binary row (stage-column.ts) stays whole.
   */
  write(view: DataView, i: number, text: string): boolean;
}

const ZERO = 48;

/** A plain integer: optional '-', 1 to 18 digits. Returns NaN otherwise (never a partial value). */
function smallInt(text: string, from: number, to: number): number {
  const n = to - from;
  if (n < 1 || n > 15) return Number.NaN;
  let v = 0;
  for (let p = from; p < to; p++) {
    const d = text.charCodeAt(p) - ZERO;
    if (d < 0 || d > 9) return Number.NaN;
    v = v * 10 + d;
  }
  return v;
}

function intFiller(duckType: string, type: DuckDBType, bytes: 2 | 4, min: number, max: number): Filler {
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

/** Writes an exact integer of at most 2^53 in magnitude as int64 (two 32-bit halves, no BigInt). */
function setInt53(view: DataView, at: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  view.setUint32(at, v - hi * 4294967296, true);
  view.setInt32(at + 4, hi, true);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A plain integer's text as an int64: up to 15 digits without BigInt, longer ones with it. */
function setInt64Text(view: DataView, at: number, text: string, neg: boolean, from: number): boolean {
  const a = smallInt(text, from, text.length);
  if (!Number.isNaN(a)) {
    setInt53(view, at, neg ? -a : a);
    return true;
  }
  const n = text.length - from;
  if (n < 1 || n > 19) return false;
  for (let p = from; p < text.length; p++) {
    const d = text.charCodeAt(p) - ZERO;
    if (d < 0 || d > 9) return false;
  }
  const big = BigInt(neg ? `-${text.slice(from)}` : text.slice(from));
  if (big < INT64_MIN || big > INT64_MAX) return false;
  view.setBigInt64(at, big, true);
  return true;
}

const bigintFiller: Filler = {
  duckType: 'BIGINT',
  type: BIGINT,
  bytes: 8,
  write(view, i, text) {
    const neg = text.charCodeAt(0) === 45;
    return setInt64Text(view, i * 8, text, neg, neg ? 1 : 0);
  },
};

const booleanFiller: Filler = {
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

const doubleFiller: Filler = {
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

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits2(text: string, p: number): number {
  const a = text.charCodeAt(p) - ZERO;
  const b = text.charCodeAt(p + 1) - ZERO;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/** "YYYY-MM-DD" at the start of `text` (AD, 4-digit year, a real calendar day) as days, else NaN. */
function isoDays(text: string): number {
  if (text.length < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return Number.NaN;
  const hi = digits2(text, 0);
  const lo = digits2(text, 2);
  const m = digits2(text, 5);
  const d = digits2(text, 8);
  if (hi < 0 || lo < 0 || m < 1 || m > 12 || d < 1) return Number.NaN;
  const y = hi * 100 + lo;
  if (y < 1) return Number.NaN;
  const leap = m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (MONTH_DAYS[m - 1] ?? 0) + (leap ? 1 : 0)) return Number.NaN;
  return daysFromCivil(y, m, d);
}

const dateFiller: Filler = {
  duckType: 'DATE',
  type: DATE,
  bytes: 4,
  write(view, i, text) {
    if (text.length !== 10) return false;
    const days = isoDays(text);
    if (Number.isNaN(days)) return false;
    view.setInt32(i * 4, days, true);
    return true;
  },
};

/**
 * "YYYY-MM-DD HH:MM:SS[.f{1,6}]" plus, with a time zone, "+HH" or "+HH:MM": microseconds since
 * 1970-01-01 UTC. Seconds 60, hour 24, offsets with seconds, BC and infinity go to DuckDB's cast.
 */
function timestampFiller(duckType: 'TIMESTAMP' | 'TIMESTAMPTZ'): Filler {
  const withZone = duckType === 'TIMESTAMPTZ';
  return {
    duckType,
    type: withZone ? TIMESTAMPTZ : TIMESTAMP,
    bytes: 8,
    write(view, i, text) {
      const n = text.length;
      if (n < 19 || text.charCodeAt(10) !== 32 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58)
        return false;
      const days = isoDays(text);
      const h = digits2(text, 11);
      const mi = digits2(text, 14);
      const s = digits2(text, 17);
      if (Number.isNaN(days) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return false;
      let p = 19;
      let micros = 0;
      if (p < n && text.charCodeAt(p) === 46) {
        p++;
        let k = 0;
        while (p < n && k < 7) {
          const c = text.charCodeAt(p) - ZERO;
          if (c < 0 || c > 9) break;
          micros = micros * 10 + c;
          p++;
          k++;
        }
        if (k === 0 || k > 6) return false;
        for (; k < 6; k++) micros *= 10;
      }
      let offset = 0;
      if (withZone) {
        const sign = text.charCodeAt(p);
        if (sign !== 43 && sign !== 45) return false;
        const oh = digits2(text, p + 1);
        if (oh < 0) return false;
        let om = 0;
        p += 3;
        if (p < n) {
          if (text.charCodeAt(p) !== 58) return false;
          om = digits2(text, p + 1);
          if (om < 0 || om > 59) return false;
          p += 3;
        }
        if (oh > 15) return false;
        offset = (oh * 3600 + om * 60) * (sign === 45 ? -1 : 1);
      }
      if (p !== n) return false;
      const seconds = days * 86400 + h * 3600 + mi * 60 + s - offset;
      const total = seconds * 1_000_000 + micros;
      if (Number.isSafeInteger(total)) setInt53(view, i * 8, total);
      else view.setBigInt64(i * 8, BigInt(seconds) * 1_000_000n + BigInt(micros), true);
      return true;
    },
  };
}

/**
 * DECIMAL(p <= 18, s): "-?digits[.digits]" with at most p - s integer digits and at most s fraction
 * digits (PostgreSQL prints exactly s for numeric(p,s)), as the integer value × 10^s in 2, 4 or 8
 * bytes, DuckDB's storage for those widths. More fraction digits (DuckDB's cast would round) or an
 * exponent go to the cast.
 */
function decimalFiller(precision: number, scale: number): Filler {
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

/**
 * VARCHAR of at most 12 ASCII characters: DuckDB keeps such a string inline in the vector (a 16-byte
 * string_t: the length as uint32, then the bytes, zero-padded), so it is written there directly with
 * no call into DuckDB per value. Longer or non-ASCII text goes the usual way (one string per value).
 */
const inlineTextFiller: Filler = {
  duckType: 'VARCHAR',
  type: VARCHAR,
  bytes: 16,
  write(view, i, text) {
    const n = text.length;
    if (n > 12) return false;
    // The 12 bytes as three little-endian words: four writes instead of a write per byte.
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    for (let k = 0; k < n; k++) {
      const c = text.charCodeAt(k);
      if (c >= 0x80 || c === 0) return false;
      const shifted = c << ((k & 3) * 8);
      if (k < 4) w0 |= shifted;
      else if (k < 8) w1 |= shifted;
      else w2 |= shifted;
    }
    const at = i * 16;
    view.setUint32(at, n, true);
    view.setUint32(at + 4, w0, true);
    view.setUint32(at + 8, w1, true);
    view.setUint32(at + 12, w2, true);
    return true;
  },
};

const FIXED: Readonly<Record<string, Filler>> = {
  VARCHAR: inlineTextFiller,
  SMALLINT: intFiller('SMALLINT', SMALLINT, 2, -32768, 32767),
  INTEGER: intFiller('INTEGER', INTEGER, 4, -2147483648, 2147483647),
  BIGINT: bigintFiller,
  BOOLEAN: booleanFiller,
  DOUBLE: doubleFiller,
  DATE: dateFiller,
  TIMESTAMP: timestampFiller('TIMESTAMP'),
  TIMESTAMPTZ: timestampFiller('TIMESTAMPTZ'),
};

const DECIMAL_TYPE = /^DECIMAL\((\d+),(\d+)\)$/;

/**
 * The filler of a column whose conversion is a plain cast to its DuckDB type (ColumnMapping.direct),
 * or undefined (the column goes as VARCHAR, as before).
 */
export function fillerFor(m: ColumnMapping | undefined): Filler | undefined {
  if (!m?.direct) return undefined;
  // VARCHAR only where the text goes in as it is (not JSON, which DuckDB checks on the way in).
  if (m.duckType === 'VARCHAR' && m.convert('x') !== 'x') return undefined;
  const fixed = FIXED[m.duckType];
  if (fixed) return fixed;
  const d = DECIMAL_TYPE.exec(m.duckType);
  if (!d) return undefined;
  const precision = Number(d[1]);
  const scale = Number(d[2]);
  if (precision > 18 || scale > precision) return undefined;
  return decimalFiller(precision, scale);
}

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_CAPACITY = 2048;

/** The filler of the staging table's own text columns (_op, _mask): plain text, often inline. */
export const TEXT_FILLER: Filler = inlineTextFiller;

/** Reusable memory for one column of one chunk: the values and DuckDB's validity bits. */
export class ColumnScratch {
  readonly data = new ArrayBuffer(CHUNK_CAPACITY * 16);
  readonly view = new DataView(this.data);
  readonly validity = new Uint8Array(CHUNK_CAPACITY / 8);
  /** Set by fill: some value of the chunk is NULL (the validity bits then matter). */
  hasNull = false;

  /**
   * Parses `values` into this scratch with `f`; false as soon as one is not in the plain form (the
   * caller sends the column as VARCHAR then).
   */
  fill(f: Filler, values: readonly (string | null)[]): boolean {
    const view = this.view;
    const n = values.length;
    let hasNull = false;
    for (let i = 0; i < n; i++) {
      const v = values[i] ?? null;
      if (v === null) {
        if (!hasNull) {
          hasNull = true;
          this.validity.fill(0xff);
        }
        const byte = this.validity[i >> 3] ?? 0;
        this.validity[i >> 3] = byte & ~(1 << (i & 7));
        // DuckDB ignores a NULL row's bytes; zero keeps the vector free of stale values anyway.
        for (let b = 0; b < f.bytes; b++) view.setUint8(i * f.bytes + b, 0);
      } else if (!f.write(view, i, v)) return false;
    }
    this.hasNull = hasNull;
    return true;
  }

  /** Copies the filled values into column `c` of `chunk`: one copy of the values, one of validity. */
  copyTo(chunk: DuckDBDataChunk, c: number, width: number, count: number): void {
    const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
    bindings.copy_data_to_vector(vector, 0, this.data, 0, count * width);
    if (this.hasNull) {
      bindings.vector_ensure_validity_writable(vector);
      bindings.copy_data_to_vector_validity(vector, 0, this.validity.buffer, 0, Math.ceil(count / 64) * 8);
    }
  }
}
