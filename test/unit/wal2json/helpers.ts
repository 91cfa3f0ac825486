// Shared by the wal2json unit, property and fuzz tests (no side effects: not a test file).
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder, type DecoderOptions } from '../../../src/wal2json/decoder.js';

export const enc = new TextEncoder();

/** Feeds `messages` (text or bytes) to a fresh decoder; message i is delivered at LSN base + i. */
export function decodeAll(
  formatVersion: 1 | 2,
  messages: ReadonlyArray<string | Uint8Array>,
  opts: Omit<DecoderOptions, 'formatVersion'> = {},
  lsns?: readonly bigint[],
): Change[] {
  const d = createDecoder({ formatVersion, ...opts });
  const out: Change[] = [];
  messages.forEach((m, i) => {
    const bytes = typeof m === 'string' ? enc.encode(m) : m;
    for (const c of d.decode(bytes, lsns?.[i] ?? 0x1000n + BigInt(i))) out.push(c);
  });
  return out;
}

/** Events without their lsn (for comparing splits of the same document, whose lsns differ). */
export function withoutLsn(changes: readonly Change[]): unknown[] {
  return changes.map(({ lsn: _lsn, ...rest }) => rest);
}

/** Splits `bytes` at the given offsets (sorted, within range). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const c of cuts) {
    parts.push(bytes.slice(from, c));
    from = c;
  }
  parts.push(bytes.slice(from));
  return parts;
}
