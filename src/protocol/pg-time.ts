// PostgreSQL's wire timestamps (in XLogData, keepalives, status updates) are Int64 microseconds
// since 2000-01-01 00:00:00 UTC. Kept as bigint end to end; converted to Date only for display.

/** 2000-01-01T00:00:00Z in µs since the Unix epoch. */
export const PG_EPOCH_UNIX_MICROS = 946_684_800_000_000n;

/** Now, as PostgreSQL µs (millisecond resolution is enough: the server only uses it for lag stats). */
export function pgNow(): bigint {
  return BigInt(Date.now()) * 1000n - PG_EPOCH_UNIX_MICROS;
}

export function pgTimeToDate(t: bigint): Date {
  return new Date(Number((t + PG_EPOCH_UNIX_MICROS) / 1000n));
}

export function dateToPgTime(d: Date): bigint {
  return BigInt(d.getTime()) * 1000n - PG_EPOCH_UNIX_MICROS;
}
