// The fillers of DATE, TIMESTAMP and TIMESTAMPTZ: ISO text of AD years with four digits, at most 6
// fraction digits and whole-hour or hour:minute offsets, as days or microseconds since 1970-01-01
// UTC; every other form (BC, infinity, second 60...) goes to DuckDB's cast (typed-fill.ts says why).
// Apart from the number fillers: the calendar is a concept of its own.

import { DATE, TIMESTAMP, TIMESTAMPTZ } from './duckdb-api.js';
import { type Filler, setInt53, ZERO } from './filler.js';
import { daysFromCivil } from './pg-temporal.js';

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

export const dateFiller: Filler = {
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
export function timestampFiller(duckType: 'TIMESTAMP' | 'TIMESTAMPTZ'): Filler {
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
