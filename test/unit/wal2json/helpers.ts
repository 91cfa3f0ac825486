// Shared by the wal2json unit, property and fuzz tests (no side effects: not a test file).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLsn } from '../../../src/protocol/lsn.js';
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder, type DecoderOptions } from '../../../src/wal2json/decoder.js';
import { fixturesDir } from '../../helpers/paths.js';

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

export interface FixtureMessage {
  readonly lsn: bigint;
  readonly bytes: Uint8Array;
}

/** A captured fixture (scripts/capture-wal2json.mjs): one XLogData per line, with its dataStart. */
export function loadFixture(name: 'v2' | 'v1' | 'v1-chunks'): FixtureMessage[] {
  const text = readFileSync(join(fixturesDir, 'wal2json', `${name}.jsonl`), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = JSON.parse(l) as { lsn: string; text?: string; base64?: string };
      const lsn = parseLsn(m.lsn);
      if (lsn === undefined) throw new Error(`bad lsn in fixture: ${m.lsn}`);
      return {
        lsn,
        bytes: m.text !== undefined ? enc.encode(m.text) : Buffer.from(m.base64 ?? '', 'base64'),
      };
    });
}

export function decodeFixture(name: 'v2' | 'v1' | 'v1-chunks'): Change[] {
  const msgs = loadFixture(name);
  return decodeAll(
    name === 'v2' ? 2 : 1,
    msgs.map((m) => m.bytes),
    {},
    msgs.map((m) => m.lsn),
  );
}

/**
 * A small whole-transaction v1 document with escapes, multibyte text, numbers, nulls and arrays: an
 * insert, an update, a delete and a message (v1.test.ts, pieces.test.ts).
 */
export const V1_HEADER =
  '{"xid":735,"nextlsn":"0/1937528","timestamp":"2026-11-23 19:40:39.943981+00","change":[';
export const V1_INSERT =
  '{"kind":"insert","schema":"public","table":"t","columnnames":["id","n","s"],"columntypes":["bigint","numeric","text"],' +
  '"columntypeoids":[20,1700,25],"columnvalues":[9223372036854775807,-1.50E-7,"a\\"é😀\\u00e9"],"pk":{"pknames":["id"],"pktypes":["bigint"]}}';
export const V1_UPDATE =
  '{"kind":"update","schema":"public","table":"t","columnnames":["id","n"],"columntypes":["bigint","numeric"],' +
  '"columnvalues":[2,null],"oldkeys":{"keynames":["id"],"keytypes":["bigint"],"keyvalues":[1]}}';
export const V1_DELETE =
  '{"kind":"delete","schema":"public","table":"t","oldkeys":{"keynames":["id"],"keytypes":["bigint"],"keytypeoids":[20],"keyvalues":[2]}}';
export const V1_MESSAGE = '{"kind":"message","transactional":true,"prefix":"p","content":"hi"}';
export const V1_DOC = `${V1_HEADER}${V1_INSERT},${V1_UPDATE},${V1_DELETE},${V1_MESSAGE}]}`;
