// The decoder's skip option: a row change of a table the caller declines is walked over unread and
// yields nothing (the decoder's `skipped` counts it); everything around it decodes exactly as without
// the option, wherever the message is cut. The skipped changes here hold what a value scan could trip
// on: escaped quotes and backslashes, brackets and braces inside strings, \u escapes, multibyte text,
// nested arrays and objects in unknown fields, and a string long enough for the native search.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder, type SkipTable } from '../../../src/wal2json/decoder.js';
import { Wal2JsonError } from '../../../src/wal2json/errors.js';
import { enc, loadFixture, V1_DELETE, V1_HEADER, V1_INSERT, V1_MESSAGE, V1_UPDATE } from './helpers.js';

const LONG = `${'x'.repeat(300)}\\"]}${'y'.repeat(40)}`;
const NASTY_VALUES = [
  '"a\\"],{}[\\\\"',
  '"\\\\"',
  '"\\u005c\\u0022]"',
  '"é😀中 ]}"',
  `"${LONG}"`,
  `"${'z'.repeat(500)}"`,
  '-1.5e-300',
  'null',
  'true',
];
const NASTY = NASTY_VALUES.join(',');

const V1_SKIPPED_INSERT =
  '{"kind":"insert","schema":"public","table":"noise","columnnames":["a","b","c","d","e","f","g","h","i"],' +
  `"columntypes":["text","text","text","text","text","text","numeric","text","bool"],"columnvalues":[${NASTY}],` +
  '"extra":[[1,[2,{"k":"]"}]],{"x":[]}],"pk":{"pknames":["a"],"pktypes":["text"]}}';
const V1_SKIPPED_DELETE =
  '{"kind":"delete","schema":"public","table":"noise","oldkeys":{"keynames":["a"],"keytypes":["text"],"keyvalues":["}{"]}}';

const V1_DOC_MIXED = `${V1_HEADER}${V1_SKIPPED_INSERT},${V1_INSERT},${V1_SKIPPED_DELETE},${V1_UPDATE},${V1_SKIPPED_INSERT},${V1_DELETE},${V1_MESSAGE}]}`;

const v2Row = (action: string, table: string, n: number) =>
  `{"action":"${action}","xid":9,"lsn":"0/10","schema":"public","table":"${table}","columns":[${Array.from(
    { length: n },
    (_, i) => `{"name":"c${i}","type":"text","value":"v${i}"}`,
  ).join(',')}],"extra":{"a":[[["]"]]]},"pk":[{"name":"c0","type":"text"}]}`;

const V2_SKIPPED = `{"action":"U","schema":"public","table":"noise","columns":[${NASTY_VALUES.map(
  (v, i) => `{"name":"c${i}","type":"text","value":${v}}`,
).join(',')}],"identity":[{"name":"c0","type":"text","value":"\\"}"}],"pk":[{"name":"c0","type":"text"}]}`;

const V2_LINES = [
  '{"action":"B","xid":9,"nextlsn":"0/20"}',
  V2_SKIPPED,
  v2Row('I', 't', 2),
  V2_SKIPPED,
  '{"action":"T","schema":"public","table":"noise"}',
  '{"action":"M","transactional":false,"prefix":"p","content":"noise"}',
  v2Row('I', 't', 1),
  '{"action":"C","xid":9,"nextlsn":"0/20"}',
];

const noise: SkipTable = (_schema, table) => table === 'noise';
const isNoise = (c: Change) => 'table' in c && c.table === 'noise';

/** Decodes `msgs` (each delivered whole, or in pieces ending at `ends`) with the given skip. */
function run(
  fv: 1 | 2,
  msgs: readonly Uint8Array[],
  skip?: SkipTable,
  ends: (b: Uint8Array) => readonly number[] = () => [],
): { out: Change[]; skipped: number } {
  const d = createDecoder({ formatVersion: fv, ...(skip ? { skip } : {}) });
  const out: Change[] = [];
  msgs.forEach((m, i) => {
    let from = 0;
    for (const end of ends(m)) {
      for (const c of d.decode(m.slice(from, end), BigInt(i + 1), true)) out.push(c);
      from = end;
    }
    for (const c of d.decode(m.slice(from), BigInt(i + 1), false)) out.push(c);
  });
  return { out, skipped: d.skipped };
}

for (const [name, fv, texts, skippedCount] of [
  ['v1 document', 1, [V1_DOC_MIXED], 3],
  ['v2 lines', 2, V2_LINES, 2],
] as const) {
  describe(`skip: ${name}`, () => {
    const msgs = texts.map((t) => enc.encode(t));
    const all = run(fv, msgs);
    const want = all.out.filter((c) => !isNoise(c));

    it('yields the other changes exactly as without skip, and counts the skipped ones', () => {
      assert.equal(all.skipped, 0);
      assert.equal(all.out.filter(isNoise).length, skippedCount);
      const got = run(fv, msgs, noise);
      assert.deepEqual(got.out, want);
      assert.equal(got.skipped, skippedCount);
    });

    it('is the same for a cut at every byte, and for one byte per piece', () => {
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i]!;
        for (let at = 0; at <= m.length; at++) {
          const got = run(fv, msgs, noise, (b) => (b === m ? [at] : []));
          assert.deepEqual(got.out, want, `message ${i} cut at ${at}`);
          assert.equal(got.skipped, skippedCount);
        }
      }
      const bytewise = run(fv, msgs, noise, (b) => [...Array(b.length).keys()].slice(1));
      assert.deepEqual(bytewise.out, want);
      assert.equal(bytewise.skipped, skippedCount);
    });
  });
}

describe('skip: when it is asked', () => {
  it('once per row change, with its schema and table; never for begin, commit, message or truncate', () => {
    const asked: string[] = [];
    run(
      2,
      V2_LINES.map((t) => enc.encode(t)),
      (s, t) => {
        asked.push(`${s}.${t}`);
        return false;
      },
    );
    assert.deepEqual(asked, ['public.noise', 'public.t', 'public.noise', 'public.t']);
  });

  it('at the change itself, after the one before was consumed (the answer may change)', () => {
    // As replicate does: the router's answer can change while the previous change is applied.
    let declined = false;
    const d = createDecoder({ formatVersion: 1, skip: (_s, t) => t === 'noise' && declined });
    const kinds: string[] = [];
    for (const c of d.decode(enc.encode(V1_DOC_MIXED), 1n)) {
      kinds.push(`${c.kind}${'table' in c ? `:${c.table}` : ''}`);
      if (c.kind === 'insert' && c.table === 'noise') declined = true;
    }
    assert.deepEqual(kinds, [
      'begin',
      'insert:noise',
      'insert:t',
      'update:t',
      'delete:t',
      'message',
      'commit',
    ]);
    assert.equal(d.skipped, 2);
  });

  it('v1: never for the change that would carry its transaction begin (a document without header)', () => {
    const doc = `{"change":[${V1_SKIPPED_DELETE},${V1_INSERT}]}`;
    const got = run(1, [enc.encode(doc)], noise);
    assert.deepEqual(
      got.out.map((c) => c.kind),
      ['begin', 'delete', 'insert', 'commit'],
    );
    assert.equal(got.skipped, 0);
  });

  it('v2: not when the table comes after the row (field order is not promised)', () => {
    const line =
      '{"action":"I","columns":[{"name":"a","type":"text","value":"x"}],"schema":"public","table":"noise"}';
    const got = run(2, [enc.encode(line)], noise);
    assert.equal(got.out.length, 1);
    assert.equal(got.skipped, 0);
  });

  it('what is skipped is still checked for its end (v1: its brackets and depth too)', () => {
    const code = (fv: 1 | 2, text: string, maxDepth?: number) => {
      const d = createDecoder({ formatVersion: fv, skip: noise, ...(maxDepth ? { maxDepth } : {}) });
      try {
        for (const _ of d.decode(enc.encode(text), 1n));
      } catch (e) {
        assert.ok(e instanceof Wal2JsonError, String(e));
        return e.code;
      }
      return 'ok';
    };
    const head = '{"action":"I","schema":"public","table":"noise","columns":';
    assert.equal(code(2, `${head}[{"value":"]"}]}`), 'ok');
    assert.equal(code(2, `${head}[{"value":"]"}]} x`), 'WALDUCK_WAL2JSON_SYNTAX');
    assert.equal(code(2, `${head}[{"value":"]"}]`), 'WALDUCK_WAL2JSON_TRUNCATED');
    assert.equal(code(2, `${head}[{"value":"\\`), 'WALDUCK_WAL2JSON_TRUNCATED');
    // v1 elements are walked to their end (v2's line ends at its last byte: see skip-unread.ts skipLine).
    const el = (rest: string) =>
      `${V1_HEADER}{"kind":"insert","schema":"public","table":"noise","x":${rest}]}`;
    assert.equal(code(1, el('[{"v":"]"}]}')), 'ok');
    assert.equal(code(1, el('[}]}')), 'WALDUCK_WAL2JSON_SYNTAX');
    assert.equal(code(1, el('[[[1]]]}'), 5), 'WALDUCK_WAL2JSON_TOO_DEEP');
    assert.equal(code(1, el('[[1]]}'), 5), 'ok');
    assert.equal(code(1, el('[[1]]')), 'WALDUCK_WAL2JSON_SYNTAX');
    assert.equal(
      code(1, `${V1_HEADER}{"kind":"insert","schema":"public","table":"noise","x":1],{}]}`),
      'WALDUCK_WAL2JSON_SYNTAX',
    );
  });
});

describe('skip: the captured streams', () => {
  for (const [name, fv] of [
    ['v1', 1],
    ['v1-chunks', 1],
    ['v2', 2],
  ] as const) {
    it(`${name}: declining one table drops exactly its row changes, cut anywhere`, () => {
      const msgs = loadFixture(name).map((m) => m.bytes);
      const all = run(fv, msgs).out;
      const rows = all.filter((c) => c.kind === 'insert' || c.kind === 'update' || c.kind === 'delete');
      const table = (rows[0] as { table: string }).table;
      const decline: SkipTable = (_s, t) => t === table;
      const want = all.filter((c) => !('table' in c && c.table === table));
      const dropped = all.length - want.length;
      assert.ok(dropped > 0 && want.length > 0);
      for (let at = 0; at < 400; at += 37) {
        const got = run(fv, msgs, decline, (b) => [at % (b.length + 1)]);
        assert.deepEqual(got.out, want, `cut at ${at}`);
        assert.equal(got.skipped, dropped);
      }
    });
  }
});
