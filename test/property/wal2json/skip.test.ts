// Skipping a table's row changes (DecoderOptions.skip) is the same as decoding everything and dropping
// them afterwards: generated v1 documents (cut at random places) and v2 lines, with generated values
// (any string JSON can hold, escaped or \u-escaped, numbers, literals) and nested unknown fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder, type SkipTable } from '../../../src/wal2json/decoder.js';
import { enc, splitAt } from '../../unit/wal2json/helpers.js';
import { jsonNumber } from './arbitraries.js';

const runs = Number(process.env.WALDUCK_FUZZ_RUNS ?? 60);

const cell = fc.oneof(
  jsonNumber,
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', minLength: 250, maxLength: 400 }).map((s) => JSON.stringify(s)),
  fc
    .string({ unit: 'grapheme', maxLength: 8 })
    .map(
      (s) =>
        `"${Array.from({ length: s.length }, (_, i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`,
    ),
  fc.constantFrom('null', 'true', 'false', '"]"', '"}"', '"\\\\"', '"\\""'),
);

/** Something JSON nests: what an unknown field may hold (a skipped change must step over it). */
const nested = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    cell,
    fc.array(tie('v'), { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`),
    fc
      .array(fc.tuple(fc.string({ maxLength: 4 }), tie('v')), { maxLength: 3 })
      .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).v;

const change = fc.record({
  table: fc.constantFrom('keep', 'drop', 'dr\\"op'),
  kind: fc.constantFrom('insert', 'update', 'delete'),
  cells: fc.array(cell, { minLength: 1, maxLength: 5 }),
  extra: fc.option(nested, { nil: undefined }),
});
type Gen = typeof change extends fc.Arbitrary<infer T> ? T : never;

function v1Element(c: Gen): string {
  const names = c.cells.map((_, i) => `"c${i}"`).join(',');
  const types = c.cells.map(() => '"text"').join(',');
  const row = `"columnnames":[${names}],"columntypes":[${types}],"columnvalues":[${c.cells.join(',')}]`;
  const old = `"oldkeys":{"keynames":["c0"],"keytypes":["text"],"keyvalues":[${c.cells[0]}]}`;
  const body = c.kind === 'insert' ? row : c.kind === 'update' ? `${row},${old}` : old;
  const extra = c.extra === undefined ? '' : `,"extra":${c.extra}`;
  return `{"kind":"${c.kind}","schema":"s","table":"${c.table}",${body}${extra}}`;
}

function v2Line(c: Gen): string {
  const cols = (cells: readonly string[]) =>
    `[${cells.map((v, i) => `{"name":"c${i}","type":"text","value":${v}}`).join(',')}]`;
  const action = c.kind === 'insert' ? 'I' : c.kind === 'update' ? 'U' : 'D';
  const row = `"columns":${cols(c.cells)}`;
  const old = `"identity":${cols(c.cells.slice(0, 1))}`;
  const body = c.kind === 'insert' ? row : c.kind === 'update' ? `${row},${old}` : old;
  const extra = c.extra === undefined ? '' : `,"extra":${c.extra}`;
  return `{"action":"${action}","schema":"s","table":"${c.table}",${body}${extra}}`;
}

const drop: SkipTable = (_s, t) => t === 'drop';

function decode(fv: 1 | 2, msgs: readonly Uint8Array[], skip?: SkipTable): Change[] {
  const d = createDecoder({ formatVersion: fv, ...(skip ? { skip } : {}) });
  const out: Change[] = [];
  msgs.forEach((m, i) => {
    for (const c of d.decode(m, BigInt(i + 1))) out.push(c);
  });
  return out;
}

const dropped = (cs: readonly Change[]) => cs.filter((c) => !('table' in c && c.table === 'drop'));

describe('skip is the same as decoding and dropping', () => {
  it('v1 documents, cut anywhere (write-in-chunks)', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), (cs, rawCuts) => {
        const bytes = enc.encode(
          `{"xid":7,"nextlsn":"0/FF","timestamp":"t","change":[${cs.map(v1Element).join(',')}]}`,
        );
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const msgs = splitAt(bytes, cuts);
        // A split document's events carry their piece's lsn: compare with the same split undeclined.
        const all = decode(1, msgs);
        assert.equal(all.length, cs.length + 2);
        assert.deepEqual(decode(1, msgs, drop), dropped(all));
      }),
      { seed: 19, numRuns: runs },
    );
  });

  it('v2 lines', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 6 }), (cs) => {
        const msgs = cs.map((c) => enc.encode(v2Line(c)));
        const all = decode(2, msgs);
        assert.equal(all.length, cs.length);
        const d = createDecoder({ formatVersion: 2, skip: drop });
        const got: Change[] = [];
        msgs.forEach((m, i) => {
          for (const c of d.decode(m, BigInt(i + 1))) got.push(c);
        });
        assert.deepEqual(got, dropped(all));
        assert.equal(d.skipped, all.length - got.length);
      }),
      { seed: 19, numRuns: runs },
    );
  });
});
