// Numbers for people: byte counts the way pg_size_pretty shows them (1024-based, "kB", "MB", ...).

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

export function formatBytes(n: bigint | number): string {
  let v = typeof n === 'bigint' ? Number(n) : n;
  if (!Number.isFinite(v)) return String(n);
  const sign = v < 0 ? '-' : '';
  v = Math.abs(v);
  let i = 0;
  // pg_size_pretty moves to the next unit only at 10240 of the current one, so "9000 bytes" stays exact.
  while (v >= 10 * 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${sign}${i === 0 ? v : Math.round(v)} ${UNITS[i]}`;
}

/** "1GB", "512 MB", "10kB", "4096" (bytes) -> bytes; undefined when it is none of these. */
export function parseBytes(text: string): bigint | undefined {
  const m = /^\s*(\d+)\s*(b|bytes?|kb|mb|gb|tb)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const shift = unit.startsWith('k')
    ? 10n
    : unit === 'mb'
      ? 20n
      : unit === 'gb'
        ? 30n
        : unit === 'tb'
          ? 40n
          : 0n;
  return BigInt(m[1] ?? '0') << shift;
}

/** Rows as an aligned text table, header first (psql's default look, without the borders). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
