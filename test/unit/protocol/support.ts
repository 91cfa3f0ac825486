// Shared helpers for the protocol unit tests (no side effects: safe to import anywhere).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { fixturesDir } from '../../helpers/paths.js';

export interface Frame {
  readonly tag: number;
  readonly body: Buffer;
}

/** Feeds `chunks` through a fresh decoder and returns the frames (bodies copied, for comparison). */
export function frames(chunks: readonly Buffer[]): Frame[] {
  const d = new FrameDecoder();
  const out: Frame[] = [];
  for (const c of chunks) d.push(c, (tag, body) => out.push({ tag, body: Buffer.from(body) }));
  if (d.midFrame) throw new Error('input ended mid-frame');
  return out;
}

/** Server bytes recorded by bench/protocol-capture.ts. */
export function capture(name: string): Buffer {
  return gunzipSync(readFileSync(`${fixturesDir}protocol/${name}.bin.gz`));
}

export function fixture(name: string): Buffer {
  return readFileSync(`${fixturesDir}protocol/${name}`);
}

/** `bytes` cut at `at` into two chunks. */
export function splitAt(bytes: Buffer, at: number): Buffer[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}
