// What a typed fill (typed-fill.ts) asks of each column type's parser, the Filler, and the exact
// integer reading and writing that the number, DECIMAL and temporal fillers share: digits read without
// a partial value, int64 written as two halves below 2^53 and through BigInt only above.

import type { DuckDBType } from '@duckdb/node-api';

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

export const ZERO = 48;

/** A plain integer: optional '-', 1 to 18 digits. Returns NaN otherwise (never a partial value). */
export function smallInt(text: string, from: number, to: number): number {
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

/** Writes an exact integer of at most 2^53 in magnitude as int64 (two 32-bit halves, no BigInt). */
export function setInt53(view: DataView, at: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  view.setUint32(at, v - hi * 4294967296, true);
  view.setInt32(at + 4, hi, true);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A plain integer's text as an int64: up to 15 digits without BigInt, longer ones with it. */
export function setInt64Text(view: DataView, at: number, text: string, neg: boolean, from: number): boolean {
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
