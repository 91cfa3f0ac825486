import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change, Insert } from '../../../src/wal2json/change.js';
import { createDecoder } from '../../../src/wal2json/decoder.js';
import { Wal2JsonError } from '../../../src/wal2json/errors.js';
import {
  decodeAll,
  enc,
  splitAt,
  V1_DELETE,
  V1_DOC,
  V1_HEADER,
  V1_INSERT,
  V1_MESSAGE,
  V1_UPDATE,
  withoutLsn,
} from './helpers.js';

const HEADER = V1_HEADER;
const INSERT = V1_INSERT;
const UPDATE = V1_UPDATE;
const DELETE = V1_DELETE;
const MESSAGE = V1_MESSAGE;
const DOC = V1_DOC;

const EXPECTED: unknown[] = [
  { kind: 'begin', xid: 735, commitTime: '2026-11-23 19:40:39.943981+00', endLsn: 0x1937528n },
  {
    kind: 'insert',
    schema: 'public',
    table: 't',
    new: {
      names: ['id', 'n', 's'],
      types: ['bigint', 'numeric', 'text'],
      typeOids: [20, 1700, 25],
      values: ['9223372036854775807', '-1.50E-7', 'a"é😀é'],
    },
    pk: ['id'],
  },
  {
    kind: 'update',
    schema: 'public',
    table: 't',
    new: { names: ['id', 'n'], types: ['bigint', 'numeric'], values: ['2', null] },
    old: { names: ['id'], types: ['bigint'], values: ['1'] },
  },
  {
    kind: 'delete',
    schema: 'public',
    table: 't',
    old: { names: ['id'], types: ['bigint'], typeOids: [20], values: ['2'] },
  },
  { kind: 'message', transactional: true, prefix: 'p', content: 'hi' },
  { kind: 'commit', xid: 735, commitTime: '2026-11-23 19:40:39.943981+00' },
];

function throwsCode(fn: () => unknown, code: string): Wal2JsonError {
  let caught: Wal2JsonError | undefined;
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Wal2JsonError, String(err));
    assert.equal(err.code, code, err.message);
    caught = err;
    return true;
  });
  return caught!;
}

describe('wal2json v1 stream decoder', () => {
  it('decodes a whole document delivered in one message: changes at its lsn, commit at nextlsn', () => {
    // The walsender stamps a whole v1 document with the transaction's start: only nextlsn is the end.
    const out = decodeAll(1, [DOC], {}, [0x1937000n]);
    assert.deepEqual(withoutLsn(out), EXPECTED);
    assert.deepEqual(
      out.map((c) => c.lsn),
      [0x1937000n, 0x1937000n, 0x1937000n, 0x1937000n, 0x1937000n, 0x1937528n],
    );
  });

  it('decodes write-in-chunks messages: each change at its message lsn', () => {
    const msgs = [HEADER, INSERT, `,${UPDATE}`, `,${DELETE}`, `,${MESSAGE}`, ']}'];
    const lsns = [0x100n, 0x100n, 0x200n, 0x300n, 0x400n, 0x1937528n];
    const out = decodeAll(1, msgs, {}, lsns);
    assert.deepEqual(withoutLsn(out), EXPECTED);
    assert.deepEqual(
      out.map((c) => c.lsn),
      [0x100n, 0x100n, 0x200n, 0x300n, 0x400n, 0x1937528n],
    );
  });

  it('without nextlsn, commits at the lsn of the message that closes the document, and says so once', () => {
    const logs: string[] = [];
    const d = createDecoder({ formatVersion: 1, log: (m) => logs.push(m) });
    const out = [
      ...d.decode(enc.encode('{"xid":1,"change":['), 5n),
      ...d.decode(enc.encode(`${INSERT}]`), 6n),
      ...d.decode(enc.encode('}{"xid":2,"change":[]}'), 7n),
    ];
    assert.deepEqual(
      out.map((c) => [c.kind, c.lsn]),
      [
        ['begin', 5n],
        ['insert', 6n],
        ['commit', 7n],
        ['begin', 7n],
        ['commit', 7n],
      ],
    );
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /nextlsn/);
  });

  it('tolerates the {"change":[,{…}]} wal2json 2.5 writes for a non-transactional message, nothing else', () => {
    const logs: string[] = [];
    const doc = '{"change":[,{"kind":"message","transactional":false,"prefix":"p","content":"c"}]}';
    assert.deepEqual(withoutLsn(decodeAll(1, [doc, doc], { log: (m) => logs.push(m) })), [
      { kind: 'message', transactional: false, prefix: 'p', content: 'c' },
      { kind: 'message', transactional: false, prefix: 'p', content: 'c' },
    ]);
    assert.equal(logs.length, 1);
    throwsCode(() => decodeAll(1, ['{"change":[,]}']), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => decodeAll(1, ['{"change":[,,{}]}']), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => decodeAll(1, [`${HEADER}${INSERT},,${INSERT}]}`]), 'WALDUCK_WAL2JSON_SYNTAX');
  });

  it('yields the same events for every single split offset and every pair of nearby offsets', () => {
    const bytes = enc.encode(DOC);
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(withoutLsn(decodeAll(1, splitAt(bytes, [i]))), EXPECTED, `split at ${i}`);
    }
    for (let i = 0; i < bytes.length; i += 7) {
      for (let j = i; j <= Math.min(bytes.length, i + 9); j++) {
        assert.deepEqual(withoutLsn(decodeAll(1, splitAt(bytes, [i, j]))), EXPECTED, `split at ${i}, ${j}`);
      }
    }
    // One byte per message: every UTF-8 sequence, escape and number is cut everywhere.
    assert.deepEqual(
      withoutLsn(
        decodeAll(
          1,
          splitAt(
            bytes,
            [...Array(bytes.length - 1).keys()].map((k) => k + 1),
          ),
        ),
      ),
      EXPECTED,
    );
  });

  it('emits begin as soon as "change":[ is read, before any change, and tracks inTransaction', () => {
    const d = createDecoder({ formatVersion: 1 });
    assert.equal(d.inTransaction, false);
    const first = [...d.decode(enc.encode(HEADER), 1n)];
    assert.deepEqual(first, [
      { kind: 'begin', lsn: 1n, xid: 735, commitTime: '2026-11-23 19:40:39.943981+00', endLsn: 0x1937528n },
    ]);
    assert.equal(d.inTransaction, true);
    const half = INSERT.length >> 1;
    assert.deepEqual([...d.decode(enc.encode(INSERT.slice(0, half)), 2n)], []);
    const rest = [...d.decode(enc.encode(`${INSERT.slice(half)}]`), 3n)];
    assert.equal(rest.length, 1);
    assert.equal(rest[0]!.kind, 'insert');
    assert.equal(d.inTransaction, true);
    const end = [...d.decode(enc.encode('}'), 4n)];
    assert.deepEqual(end, [
      { kind: 'commit', lsn: 0x1937528n, xid: 735, commitTime: '2026-11-23 19:40:39.943981+00' },
    ]);
    assert.equal(d.inTransaction, false);
  });

  it('yields changes lazily: the first change is out before the rest of the payload is read', () => {
    const d = createDecoder({ formatVersion: 1 });
    const gen = d.decode(enc.encode(`${HEADER}${INSERT},${INSERT},{"kind":"bogus"}]}`), 1n);
    assert.equal(gen.next().value?.kind, 'begin');
    assert.equal(gen.next().value?.kind, 'insert');
    assert.equal(gen.next().value?.kind, 'insert');
    assert.throws(() => gen.next(), Wal2JsonError);
  });

  it('yields an empty transaction as begin + commit, and pretty-printed documents alike', () => {
    assert.deepEqual(withoutLsn(decodeAll(1, ['{"xid":9,"change":[]}'])), [
      { kind: 'begin', xid: 9 },
      { kind: 'commit', xid: 9 },
    ]);
    assert.deepEqual(withoutLsn(decodeAll(1, ['{\n\t"change": [\n\t]\n}'])), [
      { kind: 'begin' },
      { kind: 'commit' },
    ]);
    const pretty = `{\n\t"xid": 735,\n\t"change": [\n\t\t${INSERT.replace(/,"/g, ',\n\t\t\t"')}\n\t]\n}`;
    const out = decodeAll(1, [pretty]);
    assert.deepEqual(
      out.map((c) => c.kind),
      ['begin', 'insert', 'commit'],
    );
    assert.deepEqual((out[1] as Insert).new.values, ['9223372036854775807', '-1.50E-7', 'a"é😀é']);
  });

  it('yields a non-transactional message document as the message alone', () => {
    const doc = '{"change":[{"kind":"message","transactional":false,"prefix":"p","content":"c"}]}';
    assert.deepEqual(withoutLsn(decodeAll(1, [doc, DOC])), [
      { kind: 'message', transactional: false, prefix: 'p', content: 'c' },
      ...EXPECTED,
    ]);
  });

  it('reuses names/types arrays across the rows of a document', () => {
    const out = decodeAll(1, [`${HEADER}${INSERT},${INSERT}]}`]) as Insert[];
    assert.equal(out[1]!.new.names, out[2]!.new.names);
    assert.equal(out[1]!.new.types, out[2]!.new.types);
    assert.equal(out[1]!.new.typeOids, out[2]!.new.typeOids);
    assert.equal(out[1]!.pk, out[2]!.pk);
  });

  it('rejects unknown kinds, bad shapes and bad syntax, with the offset in the current message', () => {
    throwsCode(
      () => decodeAll(1, [`${HEADER}{"kind":"truncate","schema":"s","table":"t"}]}`]),
      'WALDUCK_WAL2JSON_UNKNOWN_ACTION',
    );
    throwsCode(() => decodeAll(1, [`${HEADER}{"schema":"s"}]}`]), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => decodeAll(1, ['{"change":{}}']), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => decodeAll(1, ['[]']), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => decodeAll(1, ['{"action":"B","xid":1}']), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => decodeAll(1, ['{}']), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(
      () =>
        decodeAll(1, [
          `${HEADER}{"kind":"insert","schema":"s","table":"t","columnnames":["a","b"],"columnvalues":[1]}]}`,
        ]),
      'WALDUCK_WAL2JSON_SHAPE',
    );
    const e = throwsCode(
      () => decodeAll(1, [HEADER, '{"kind":"insert","x":q', '}]}'], {}, [1n, 2n, 3n]),
      'WALDUCK_WAL2JSON_SYNTAX',
    );
    assert.equal(e.lsn, 2n);
    assert.equal(e.offset, 21);
    // A middle message is only scanned; the bad byte in it is found once the change is whole, in the
    // last message, and reported with a negative offset counted back from the change's end there.
    const e2 = throwsCode(
      () => decodeAll(1, [HEADER, '{"kind":"insert","y":"', 'abc",q,', '"z":1}]}'], {}, [1n, 2n, 3n, 4n]),
      'WALDUCK_WAL2JSON_SYNTAX',
    );
    assert.equal(e2.lsn, 4n);
    assert.equal(e2.offset, -2);
  });

  it('bounds memory: a string or change over the limit fails while it is still arriving', () => {
    const d = createDecoder({ formatVersion: 1, maxStringBytes: 1000 });
    [
      ...d.decode(
        enc.encode(
          `${HEADER}{"kind":"insert","schema":"s","table":"t","columnnames":["a"],"columnvalues":["`,
        ),
        1n,
      ),
    ];
    const chunk = enc.encode('x'.repeat(600));
    [...d.decode(chunk, 2n)];
    throwsCode(() => [...d.decode(chunk, 3n)], 'WALDUCK_WAL2JSON_TOO_LONG');
    const d2 = createDecoder({ formatVersion: 1, maxChangeBytes: 2000 });
    [...d2.decode(enc.encode(`${HEADER}{"kind":"insert","values":[`), 1n)];
    [...d2.decode(enc.encode('1,'.repeat(500)), 2n)];
    throwsCode(() => [...d2.decode(enc.encode('1,'.repeat(500)), 3n)], 'WALDUCK_WAL2JSON_TOO_LONG');
    const d3 = createDecoder({ formatVersion: 1, maxDepth: 10 });
    [...d3.decode(enc.encode(`${HEADER}{"kind":"insert","x":`), 1n)];
    throwsCode(() => [...d3.decode(enc.encode('['.repeat(20)), 2n)], 'WALDUCK_WAL2JSON_TOO_DEEP');
  });

  it('refuses input after a failure, or after a generator was abandoned, instead of guessing', () => {
    const d = createDecoder({ formatVersion: 1 });
    assert.throws(() => [...d.decode(enc.encode('x'), 1n)], Wal2JsonError);
    throwsCode(() => d.decode(enc.encode(DOC), 2n), 'WALDUCK_WAL2JSON_MISUSE');
    const d2 = createDecoder({ formatVersion: 1 });
    const g = d2.decode(enc.encode(DOC), 1n);
    g.next();
    g.return();
    throwsCode(() => d2.decode(enc.encode(DOC), 2n), 'WALDUCK_WAL2JSON_MISUSE');
    const d3 = createDecoder({ formatVersion: 1 });
    d3.decode(enc.encode(DOC), 1n);
    throwsCode(() => d3.decode(enc.encode(DOC), 2n), 'WALDUCK_WAL2JSON_MISUSE');
  });

  it('a repeated "change" key continues the same transaction (one begin, one commit)', () => {
    assert.deepEqual(
      withoutLsn(decodeAll(1, [`{"xid":3,"change":[${MESSAGE}],"change":[${MESSAGE}]}`])).map(
        (c) => (c as { kind: string }).kind,
      ),
      ['begin', 'message', 'message', 'commit'],
    );
  });

  it('accepts several documents in one message and a document split right after a number', () => {
    const out: Change[] = decodeAll(1, ['{"xid":1,"change":[]}{"xid":2', '3,"change":[]}']);
    assert.deepEqual(withoutLsn(out), [
      { kind: 'begin', xid: 1 },
      { kind: 'commit', xid: 1 },
      { kind: 'begin', xid: 23 },
      { kind: 'commit', xid: 23 },
    ]);
  });
});
