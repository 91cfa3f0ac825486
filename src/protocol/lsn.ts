// Log sequence numbers: a 64-bit byte position in the WAL, printed by PostgreSQL as two 32-bit hex
// halves "X/Y" (e.g. "16/B374D848"). Kept as bigint: a JS number loses LSNs past 2^53, and comparing
// the text form as strings orders "9/0" after "10/0".

export type Lsn = bigint;

export const INVALID_LSN: Lsn = 0n;
export const MAX_LSN: Lsn = 0xffff_ffff_ffff_ffffn;
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses "X/Y" (pg_lsn's text form). Returns undefined for anything else. */
export function parseLsn(text: string): Lsn | undefined {
  const m = LSN_TEXT.exec(text);
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats as PostgreSQL does: upper-case hex, no leading zeros in either half ("0/16B3748"). */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN out of range: ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** The larger of two LSNs (Math.max does not take bigints). */
export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}
