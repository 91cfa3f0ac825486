// PostgreSQL's text of dates, timestamps and intervals rewritten into text DuckDB's cast reads as the
// same value. DuckDB's own cast gets three things wrong: it ignores a trailing " BC" on a date (44 BC
// became 44 AD), refuses it on a timestamp, and refuses PostgreSQL's interval output whenever the
// signs mix ("-1 days +02:03:04"). Both sides count years astronomically inside (1 BC is year 0), so
// "0044-03-15 BC" is DuckDB's "-0043-03-15". Intervals are (months, days, microseconds) on both
// sides and never normalised, so they go over field by field.
//
// A value DuckDB cannot hold (a timestamp after 294247-01-10 04:00:54.775806 UTC) throws ValueError:
// the caller names table, column, key and LSN. Text in no form PostgreSQL prints throws too, never
// guesses.

import { WalduckError } from '../protocol/errors.js';

/** The message says what is wrong, never the value: that is in `snippet` (shown with --debug-values). */
export class ValueError extends WalduckError {
  override readonly name = 'ValueError';
  readonly code = 'WALDUCK_VALUE';
  readonly phase = 'apply';
  constructor(
    message: string,
    readonly snippet: string,
  ) {
    super(message);
  }
}

const DATE = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;
// DateStyle ISO: "YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]"; the offset only for timestamptz.
const TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/;

/** Years from this one on may lie beyond DuckDB's TIMESTAMP range: checked exactly. */
const CHECK_FROM_YEAR = 294246;
/** DuckDB's largest finite TIMESTAMP in microseconds since 1970 (the next one means infinity). */
const MAX_MICROS = 9223372036854775806n;

function astronomical(year: string, bc: string | undefined): string {
  if (!bc) return year;
  const y = Number(year) - 1;
  return `-${String(y).padStart(4, '0')}`;
}

/** date: "0044-03-15 BC" -> "-0043-03-15"; infinity and AD dates as they are (all fit DuckDB's DATE). */
export function pgDate(text: string): string {
  if (!text.endsWith(' BC')) {
    if (text === 'infinity' || text === '-infinity' || DATE.test(text)) return text;
    throw unreadable('date', text);
  }
  const m = DATE.exec(text);
  if (!m) throw unreadable('date', text);
  return `${astronomical(m[1] ?? '', m[4])}-${m[2]}-${m[3]}`;
}

/** timestamp and timestamptz (any offset, seconds too): BC rewritten, beyond DuckDB's range refused. */
export function pgTimestamp(text: string): string {
  // The form PostgreSQL prints for every AD timestamp with a 4-digit year comes back as it is; the
  // regex below (13 captures per value) was a tenth of the CPU of a row of timestamps.
  if (plainTimestamp(text)) return text;
  if (text === 'infinity' || text === '-infinity') return text;
  const m = TIMESTAMP.exec(text);
  if (!m) throw unreadable('timestamp', text);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  if (!bc && Number(y) >= CHECK_FROM_YEAR) {
    let micros =
      (BigInt(daysFromCivil(Number(y), Number(mo), Number(d))) * 86400n +
        BigInt(Number(h) * 3600 + Number(mi) * 60 + Number(s))) *
        1000000n +
      BigInt((frac ?? '').padEnd(6, '0'));
    if (sign) {
      const off = BigInt(Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * 1000000n;
      micros += sign === '+' ? -off : off;
    }
    if (micros > MAX_MICROS)
      throw new ValueError(
        "the timestamp is after DuckDB's last TIMESTAMP (294247-01-10 04:00:54.775806 UTC)",
        text,
      );
  }
  if (!bc) return text;
  return `${astronomical(y ?? '', bc)}${text.slice((y ?? '').length, -3)}`;
}

/**
 * "YYYY-MM-DD HH:MM:SS[.f{1,6}][±HH[:MM[:SS]]]" with a 4-digit year and no BC: TIMESTAMP matches it
 * and its year is far below CHECK_FROM_YEAR, so pgTimestamp returns it unchanged.
 */
function plainTimestamp(t: string): boolean {
  const n = t.length;
  if (n < 19 || !digits(t, 0, 4) || t.charCodeAt(4) !== 45 || !digits(t, 5, 2) || t.charCodeAt(7) !== 45)
    return false;
  if (!digits(t, 8, 2) || t.charCodeAt(10) !== 32 || !digits(t, 11, 2) || t.charCodeAt(13) !== 58)
    return false;
  if (!digits(t, 14, 2) || t.charCodeAt(16) !== 58 || !digits(t, 17, 2)) return false;
  let i = 19;
  if (i < n && t.charCodeAt(i) === 46) {
    const from = ++i;
    while (i < n && i - from < 6 && isDigit(t.charCodeAt(i))) i++;
    if (i === from) return false;
  }
  if (i === n) return true;
  const sign = t.charCodeAt(i);
  if ((sign !== 43 && sign !== 45) || !digits(t, i + 1, 2)) return false;
  i += 3;
  for (let part = 0; part < 2 && i < n; part++) {
    if (t.charCodeAt(i) !== 58 || !digits(t, i + 1, 2)) return false;
    i += 3;
  }
  return i === n;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digits(t: string, at: number, count: number): boolean {
  if (at + count > t.length) return false;
  for (let i = at; i < at + count; i++) if (!isDigit(t.charCodeAt(i))) return false;
  return true;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Days since 1970-01-01 -> proleptic Gregorian y, m, d (the inverse of daysFromCivil). */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export interface IntervalParts {
  readonly months: number;
  readonly days: number;
  readonly micros: bigint;
}

const UNIT_MONTHS: Readonly<Record<string, number>> = {
  year: 12,
  years: 12,
  mon: 1,
  mons: 1,
};
const CLOCK = /^([+-])?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;
const ISO =
  /^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?)(\d+)(?:\.(\d{1,6}))?S)?)?$/;

/**
 * interval in IntervalStyle postgres ("1 year 2 mons -3 days +04:05:06.789", what replicate pins) or
 * iso_8601 ("P1Y2M-3DT4H5M6.789S") -> its three fields.
 */
export function parseInterval(text: string): IntervalParts {
  if (text.startsWith('P')) return parseIso(text);
  let months = 0;
  let days = 0;
  let micros = 0n;
  const words = text.split(' ');
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    const clock = CLOCK.exec(w);
    if (clock && i === words.length - 1) {
      const [, sign, h, mi, s, frac] = clock;
      const abs =
        (BigInt(h ?? '0') * 3600n + BigInt(Number(mi) * 60 + Number(s))) * 1000000n +
        BigInt((frac ?? '').padEnd(6, '0'));
      micros = sign === '-' ? -abs : abs;
      continue;
    }
    const unit = words[i + 1];
    if (!/^[+-]?\d+$/.test(w) || unit === undefined) throw unreadable('interval', text);
    const n = Number(w);
    if (unit === 'day' || unit === 'days') days = n;
    else if (UNIT_MONTHS[unit] !== undefined) months += n * (UNIT_MONTHS[unit] ?? 0);
    else throw unreadable('interval', text);
    i++;
  }
  return { months, days, micros };
}

function parseIso(text: string): IntervalParts {
  const m = ISO.exec(text);
  if (!m) throw unreadable('interval', text);
  const [, y, mo, d, h, mi, sign, s, frac] = m;
  const secs = (BigInt(s ?? '0') * 1000000n + BigInt((frac ?? '').padEnd(6, '0'))) * (sign ? -1n : 1n);
  return {
    months: Number(y ?? 0) * 12 + Number(mo ?? 0),
    days: Number(d ?? 0),
    micros: (BigInt(h ?? '0') * 3600n + BigInt(mi ?? '0') * 60n) * 1000000n + secs,
  };
}

/** interval text DuckDB's cast reads field by field, exactly. */
export function pgInterval(text: string): string {
  const p = parseInterval(text);
  // DuckDB reads the magnitude before the sign: INT64_MIN (PostgreSQL's smallest time part) in two terms.
  const micros =
    p.micros === -9223372036854775808n ? '-9223372036854775807 microseconds -1' : String(p.micros);
  return `${p.months} months ${p.days} days ${micros} microseconds`;
}

/**
 * Unconstrained numeric stored as DOUBLE: rounding to 17 significant digits is the documented loss,
 * but a value beyond DOUBLE's range would become ±Infinity, one too small would become 0. The check
 * parses a JS number only to see which (correctly rounded, as DuckDB's cast); the stored value
 * comes from DuckDB's cast of the text itself.
 */
export function pgNumericAsDouble(text: string): string {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
  doubleOf(text);
  return text;
}

/** The DOUBLE a finite numeric text becomes, refused when that is ±Infinity or a false 0. */
function doubleOf(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n))
    throw new ValueError(
      `the numeric (${text.length} characters) is beyond DOUBLE's range; use --numeric exact or a numeric(p,s) column`,
      abbrev(text),
    );
  if (n === 0 && /[1-9]/.test(text.split(/[eE]/)[0] ?? ''))
    throw new ValueError(
      `the numeric (${text.length} characters) is too small for DOUBLE (it would be 0); use --numeric exact or a numeric(p,s) column`,
      abbrev(text),
    );
  return n;
}

/**
 * The same for a column that identifies rows (a key, or every column of a REPLICA IDENTITY FULL
 * table): its value must stay exact, or two keys become one DOUBLE and an UPDATE or DELETE of one
 * changes both. A decimal of at most 15 significant digits (DBL_DIG) comes back from its DOUBLE
 * unchanged, so two such keys never meet; more digits, or a subnormal DOUBLE (fewer bits), are refused.
 */
export function pgNumericKeyAsDouble(text: string): string {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
  const n = Math.abs(doubleOf(text));
  const digits = meaningfulDigits(text);
  if (digits > 15 || (n !== 0 && n < MIN_NORMAL))
    throw new ValueError(
      `the numeric key value has ${digits} significant digits${digits > 15 ? '' : " and is below DOUBLE's normal range"}: a DOUBLE keeps 15 exactly, and two keys could become one row; use --numeric exact or a numeric(p,s) key column`,
      abbrev(text),
    );
  return text;
}

/** Smallest positive normal DOUBLE: below it a DOUBLE holds fewer than 15 significant digits. */
const MIN_NORMAL = 2.2250738585072014e-308;

/** Digits of a numeric's text without sign, point, exponent, leading and trailing zeros. */
export function meaningfulDigits(text: string): number {
  const mantissa = text.split(/[eE]/)[0] ?? '';
  let first = -1;
  let last = -1;
  let n = 0;
  for (let i = 0; i < mantissa.length; i++) {
    const c = mantissa.charCodeAt(i);
    if (c < 0x30 || c > 0x39) continue;
    if (c !== 0x30) {
      if (first < 0) first = n;
      last = n;
    }
    n++;
  }
  return first < 0 ? 0 : last - first + 1;
}

function abbrev(text: string): string {
  return text.length > 40 ? `${text.slice(0, 20)}…(${text.length} chars)` : text;
}

function unreadable(type: string, text: string): ValueError {
  return new ValueError(
    `cannot read the ${type} text (${text.length} characters; walduck pins DateStyle ISO and IntervalStyle postgres)`,
    abbrev(text),
  );
}
