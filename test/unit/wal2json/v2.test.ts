import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Insert, Update } from '../../../src/wal2json/change.js';
import { createDecoder } from '../../../src/wal2json/decoder.js';
import { Wal2JsonError } from '../../../src/wal2json/errors.js';
import { decodeAll, enc } from './helpers.js';

const one = (line: string) => {
  const out = decodeAll(2, [line]);
  assert.equal(out.length, 1);
  return out[0]!;
};

function throwsCode(fn: () => unknown, code: string, offset?: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Wal2JsonError, String(err));
    assert.equal(err.code, code, err.message);
    if (offset !== undefined) assert.equal(err.offset, offset, err.message);
    return true;
  });
}

describe('wal2json v2 decoder', () => {
  it('decodes begin and commit with xid, timestamp and nextlsn', () => {
    assert.deepEqual(
      one(
        '{"action":"B","xid":735,"timestamp":"2026-11-23 19:40:39.943981+00","lsn":"0/19374F8","nextlsn":"0/1937528"}',
      ),
      {
        kind: 'begin',
        lsn: 0x1000n,
        xid: 735,
        commitTime: '2026-11-23 19:40:39.943981+00',
        endLsn: 0x1937528n,
      },
    );
    assert.deepEqual(one('{"action":"C","xid":4294967295,"timestamp":"t","nextlsn":"1/0"}'), {
      kind: 'commit',
      lsn: 0x1000n,
      xid: 4294967295,
      commitTime: 't',
    });
    assert.deepEqual(one('{"action":"B"}'), { kind: 'begin', lsn: 0x1000n });
  });

  it('keeps every number as its source text and maps literals', () => {
    const c = one(
      '{"action":"I","schema":"public","table":"t","columns":[' +
        '{"name":"a","type":"bigint","value":9223372036854775807},' +
        '{"name":"b","type":"bigint","value":-9223372036854775808},' +
        '{"name":"c","type":"numeric","value":0.1000000000000000055511151231257827021181583404541015625},' +
        '{"name":"d","type":"double precision","value":-0},' +
        '{"name":"e","type":"double precision","value":5e-324},' +
        '{"name":"f","type":"real","value":1E+38},' +
        '{"name":"g","type":"boolean","value":true},' +
        '{"name":"h","type":"boolean","value":false},' +
        '{"name":"i","type":"text","value":null}]}',
    ) as Insert;
    assert.deepEqual(c.new.values, [
      '9223372036854775807',
      '-9223372036854775808',
      '0.1000000000000000055511151231257827021181583404541015625',
      '-0',
      '5e-324',
      '1E+38',
      'true',
      'false',
      null,
    ]);
    assert.deepEqual(c.new.names, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    assert.equal(c.new.typeOids, undefined);
  });

  it('unescapes strings: quotes, backslashes, control escapes, \\u with surrogate pairs, raw UTF-8', () => {
    const c = one(
      '{"action":"I","schema":"s","table":"t","columns":[{"name":"x","type":"text","value":' +
        '"q\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f u\\u00e9\\ud83d\\ude00 raw é😀 \\\\x00ff"}]}',
    ) as Insert;
    assert.equal(c.new.values[0], 'q"b\\s/n\nr\rt\tb\bf\f u\u00e9😀 raw é😀 \\x00ff');
  });

  it('maps update identity, delete identity, pk and type oids', () => {
    const u = one(
      '{"action":"U","schema":"s","table":"t","columns":[{"name":"id","type":"integer","typeoid":23,"value":2}],' +
        '"identity":[{"name":"id","type":"integer","typeoid":23,"value":1}],"pk":[{"name":"id","type":"integer","typeoid":23}]}',
    ) as Update;
    assert.deepEqual(u.new, { names: ['id'], types: ['integer'], typeOids: [23], values: ['2'] });
    assert.deepEqual(u.old, { names: ['id'], types: ['integer'], typeOids: [23], values: ['1'] });
    assert.deepEqual(u.pk, ['id']);
    const d = one(
      '{"action":"D","schema":"s","table":"t","identity":[{"name":"k","type":"text","value":"x"}]}',
    );
    assert.deepEqual(d, {
      kind: 'delete',
      lsn: 0x1000n,
      schema: 's',
      table: 't',
      old: { names: ['k'], types: ['text'], values: ['x'] },
    });
  });

  it('maps truncate and messages (transactional or not, with null xid)', () => {
    assert.deepEqual(one('{"action":"T","xid":1,"schema":"s","table":"t"}'), {
      kind: 'truncate',
      lsn: 0x1000n,
      tables: [{ schema: 's', table: 't' }],
    });
    assert.deepEqual(
      one('{"action":"M","xid":null,"timestamp":null,"transactional":false,"prefix":"p","content":"c\\"d"}'),
      { kind: 'message', lsn: 0x1000n, transactional: false, prefix: 'p', content: 'c"d' },
    );
  });

  it('reuses the names/types/typeOids arrays of consecutive rows of a table, not across tables', () => {
    const row = (table: string, v: number, name = 'id') =>
      `{"action":"I","schema":"s","table":"${table}","columns":[{"name":"${name}","type":"integer","typeoid":23,"value":${v}},{"name":"é","type":"text","typeoid":25,"value":"x"}]}`;
    const [a, b, c, d, e] = decodeAll(2, [
      row('t', 1),
      row('t', 2),
      row('u', 3),
      row('t', 4),
      row('t', 5, 'id2'),
    ]) as Insert[];
    assert.equal(a!.new.names, b!.new.names);
    assert.equal(a!.new.types, b!.new.types);
    assert.equal(a!.new.typeOids, b!.new.typeOids);
    assert.notEqual(a!.new.values, b!.new.values);
    assert.notEqual(c!.new.names, a!.new.names);
    assert.deepEqual(c!.new.names, a!.new.names);
    assert.equal(d!.new.names, a!.new.names, 'interleaved tables keep their own cache');
    assert.deepEqual(e!.new.names, ['id2', 'é']);
    assert.notEqual(e!.new.names, a!.new.names);
    assert.equal(e!.new.types, a!.new.types);
    assert.equal(a!.schema, b!.schema);
  });

  it('skips unknown fields, whatever their shape, in any order', () => {
    const c = one(
      ' {"future":{"a":[1,{"b":null}],"c":"\\u0041"},"columns":[{"extra":[true],"value":1,"name":"id","type":"int"}],' +
        '"table":"t","schema":"s","action":"I","origin":7}\n',
    );
    assert.deepEqual(c, {
      kind: 'insert',
      lsn: 0x1000n,
      schema: 's',
      table: 't',
      new: { names: ['id'], types: ['int'], values: ['1'] },
    });
  });

  it('rejects unknown actions, malformed and truncated lines with code, lsn, offset and snippet', () => {
    throwsCode(() => one('{"action":"X","schema":"s"}'), 'WALDUCK_WAL2JSON_UNKNOWN_ACTION', 10);
    throwsCode(
      () => one('{"action":"I","schema":"s","table":"t","columns":[{"name":"a","value":1}'),
      'WALDUCK_WAL2JSON_TRUNCATED',
    );
    throwsCode(() => one('{"action":"I","schema":"s","table":"t","columns":{}}'), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => one('{"action":"I","schema":"s","table":"t"}'), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(
      () => one('{"action":"I","schema":"s","table":"t","columns":[{"name":"a"}]}'),
      'WALDUCK_WAL2JSON_SHAPE',
    );
    throwsCode(
      () => one('{"action":"I","schema":"s","table":"t","columns":[{"name":"a","value":[1]}]}'),
      'WALDUCK_WAL2JSON_SHAPE',
    );
    throwsCode(() => one('{"action":"B"} {}'), 'WALDUCK_WAL2JSON_SYNTAX', 15);
    throwsCode(() => one('{"action":"B",}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","xid":01}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","xid":1.5}'), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => one('{"action":"B","xid":-1}'), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => one('{"action":"B","x":"a\u0001"}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","x":"\\q"}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","x":"\\u12"}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","x":tru}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","x":NaN}'), 'WALDUCK_WAL2JSON_SYNTAX');
    throwsCode(() => one('{"action":"B","nextlsn":"zz"}'), 'WALDUCK_WAL2JSON_SHAPE');
    throwsCode(() => one(''), 'WALDUCK_WAL2JSON_TRUNCATED');
    throwsCode(() => one('[]'), 'WALDUCK_WAL2JSON_SHAPE', 0);
    const err = (() => {
      try {
        decodeAll(2, ['{"action":"I","schema":"s","table":"t","columns":[{"name":"a","value":x}]}'], {}, [
          0x16b374d848n,
        ]);
      } catch (e) {
        return e as Wal2JsonError;
      }
      return undefined;
    })();
    assert.ok(err);
    assert.equal(err.lsn, 0x16b374d848n);
    assert.equal(err.offset, 70);
    assert.match(err.snippet, /"value":⟦x}]}/);
    assert.match(err.message, /16\/B374D848/);
  });

  it('enforces the depth and string limits', () => {
    const deep = `{"action":"B","x":${'['.repeat(40)}${']'.repeat(40)}}`;
    throwsCode(() => one(deep), 'WALDUCK_WAL2JSON_TOO_DEEP');
    assert.deepEqual(decodeAll(2, [deep], { maxDepth: 41 }), [{ kind: 'begin', lsn: 0x1000n }]);
    throwsCode(
      () => decodeAll(2, ['{"action":"B","x":"12345"}'], { maxStringBytes: 4 }),
      'WALDUCK_WAL2JSON_TOO_LONG',
    );
    throwsCode(
      () => decodeAll(2, ['{"action":"B","x":"1234\\n"}'], { maxStringBytes: 4 }),
      'WALDUCK_WAL2JSON_TOO_LONG',
    );
    assert.equal(decodeAll(2, ['{"action":"B","x":"1234"}'], { maxStringBytes: 4 }).length, 1);
  });

  it('keeps working after a bad line, but refuses a new payload while a generator is unfinished', () => {
    const d = createDecoder({ formatVersion: 2 });
    assert.throws(() => [...d.decode(enc.encode('{'), 1n)], Wal2JsonError);
    assert.equal([...d.decode(enc.encode('{"action":"B"}'), 2n)].length, 1);
    const pending = d.decode(enc.encode('{"action":"B"}'), 3n);
    throwsCode(() => d.decode(enc.encode('{"action":"C"}'), 4n), 'WALDUCK_WAL2JSON_MISUSE');
    assert.equal([...pending].length, 1);
  });
});
