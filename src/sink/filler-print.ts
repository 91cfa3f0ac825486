// How a filler's binary value is printed back as text that DuckDB's cast reads as the same value: a
// staged binary value (staged-values.ts textAt) in a chunk that goes as VARCHAR, or shown in a
// diagnostic. The inverse of the fillers (filler-*.ts), checked with them by the property test
// test/property/sink/typed-fill.test.ts; apart from the staged column, whose storage it does not need.

import { InternalError } from '../protocol/errors.js';
import type { Filler } from './filler.js';
import { civilFromDays } from './pg-temporal.js';

const pad = (n: number | bigint, w: number) => String(n).padStart(w, '0');

function dateText(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

const MICROS_PER_DAY = 86_400_000_000n;

function timestampText(micros: bigint, zone: string): string {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const r = Number(rest);
  const secs = Math.floor(r / 1_000_000);
  const frac = r % 1_000_000;
  const h = Math.floor(secs / 3600);
  const mi = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  return `${dateText(Number(days))} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(frac, 6)}${zone}`;
}

function decimalText(scaled: bigint, scale: number): string {
  const neg = scaled < 0n;
  const digits = pad(neg ? -scaled : scaled, scale + 1);
  const cut = digits.length - scale;
  const body = scale === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return neg ? `-${body}` : body;
}

const DECIMAL_SCALE = /^DECIMAL\(\d+,(\d+)\)$/;

/** How a filler's binary value is printed back as text DuckDB's cast reads as the same value. */
export function formatterOf(f: Filler): (view: DataView, i: number) => string {
  switch (f.duckType) {
    case 'SMALLINT':
      return (v, i) => String(v.getInt16(i * 2, true));
    case 'INTEGER':
      return (v, i) => String(v.getInt32(i * 4, true));
    case 'BIGINT':
      return (v, i) => String(v.getBigInt64(i * 8, true));
    case 'BOOLEAN':
      return (v, i) => (v.getUint8(i) ? 'true' : 'false');
    case 'DOUBLE':
      // JS prints the shortest text that reads back as the same double; DuckDB reads it correctly rounded.
      return (v, i) => {
        const d = v.getFloat64(i * 8, true);
        return Object.is(d, -0) ? '-0' : String(d);
      };
    case 'DATE':
      return (v, i) => dateText(v.getInt32(i * 4, true));
    case 'TIMESTAMP':
      return (v, i) => timestampText(v.getBigInt64(i * 8, true), '');
    case 'TIMESTAMPTZ':
      return (v, i) => timestampText(v.getBigInt64(i * 8, true), '+00');
    case 'VARCHAR':
      // Inline string_t: length, then at most 12 ASCII bytes (all the inline filler accepts).
      return (v, i) => {
        const at = i * 16;
        const n = v.getUint32(at, true);
        let s = '';
        for (let k = 0; k < n; k++) s += String.fromCharCode(v.getUint8(at + 4 + k));
        return s;
      };
    default: {
      const m = DECIMAL_SCALE.exec(f.duckType);
      if (!m) throw new InternalError('apply', `no text form for filler ${f.duckType}`);
      const scale = Number(m[1]);
      if (f.bytes === 2) return (v, i) => decimalText(BigInt(v.getInt16(i * 2, true)), scale);
      if (f.bytes === 4) return (v, i) => decimalText(BigInt(v.getInt32(i * 4, true)), scale);
      return (v, i) => decimalText(v.getBigInt64(i * 8, true), scale);
    }
  }
}
