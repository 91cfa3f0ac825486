// wal2json writes a format_type text that starts with a quote (and is not an array) as it is: "char"
// arrives as the JSON string char, "Sales".st and "a""b" as text that is not JSON. The decoder reads the
// latter back to format_type's text, and the schema check compares names as the decoder reads them.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Insert, Update } from '../../../src/wal2json/change.js';
import { sameTypeName, typeAsWal2jsonWrites } from '../../../src/wal2json/type-name.js';
import { decodeAll, enc, splitAt } from './helpers.js';

it('compares a quoted catalog type name with what wal2json writes', () => {
  assert.equal(typeAsWal2jsonWrites('"char"'), 'char');
  assert.equal(typeAsWal2jsonWrites('"user"'), 'user');
  assert.equal(typeAsWal2jsonWrites('"char"[]'), '"char"[]'); // an array is escaped properly
  assert.equal(typeAsWal2jsonWrites('s."My Enum"'), 's."My Enum"'); // does not start with a quote
  assert.equal(typeAsWal2jsonWrites('"Sales".st'), '"Sales".st'); // not JSON: read back as it is
  assert.ok(sameTypeName('char', '"char"'));
  assert.ok(sameTypeName('"Sales".st', '"Sales".st'));
  assert.ok(!sameTypeName('char', 'character(1)'));
  assert.ok(!sameTypeName('"char"', 'char'));
});

// What wal2json 2.5 printed for a table of "Sales".st (the key) and "Odd S"."My ""E""" columns.
const V2_UPDATE =
  '{"action":"U","schema":"Sales","table":"o","columns":[{"name":"s","type":"Sales".st,"value":"new"},' +
  '{"name":"e","type":"Odd S"."My ""E""","value":"x"},{"name":"c","type":"char","value":"a"},' +
  '{"name":"es","type":"\\"Sales\\".st[]","value":"{new}"}],' +
  '"identity":[{"name":"s","type":"Sales".st,"value":"old"}],"pk":[{"name":"s","type":"Sales".st}]}';

it('reads v2 type names written as broken JSON back to format_type text (columns, identity, pk)', () => {
  for (let round = 0; round < 2; round++) {
    // The second round reads the same line again: the cached names and the column prefixes.
    const u = decodeAll(2, [V2_UPDATE, V2_UPDATE])[round] as Update;
    assert.deepEqual(u.new.types, ['"Sales".st', '"Odd S"."My ""E"""', 'char', '"Sales".st[]']);
    assert.deepEqual(u.new.values, ['new', 'x', 'a', '{new}']);
    assert.deepEqual(u.old?.types, ['"Sales".st']);
    assert.deepEqual(u.old?.values, ['old']);
    assert.deepEqual(u.pk, ['s']);
  }
});

it('reads v1 columntypes, keytypes and pktypes written as broken JSON, also cut into pieces', () => {
  const doc =
    '{"xid":1,"nextlsn":"0/10","timestamp":"t","change":[{"kind":"update","schema":"Sales","table":"o",' +
    '"columnnames":["s","e"],"columntypes":["Sales".st,"Odd S"."My ""E"""],"columnvalues":["new","x"],' +
    '"oldkeys":{"keynames":["s"],"keytypes":["Sales".st],"keyvalues":["old"]},' +
    '"pk":{"pknames":["s"],"pktypes":["Sales".st]}}]}';
  const bytes = enc.encode(doc);
  // Cut at every byte, so that a piece ends inside each broken name.
  for (const cuts of [[], ...Array.from({ length: bytes.length - 1 }, (_, i) => [i + 1])]) {
    const u = decodeAll(1, splitAt(bytes, cuts)).find((c) => c.kind === 'update') as Update;
    assert.deepEqual(u.new.types, ['"Sales".st', '"Odd S"."My ""E"""'], `cuts ${cuts.join(',')}`);
    assert.deepEqual(u.new.values, ['new', 'x']);
    assert.deepEqual(u.old?.types, ['"Sales".st']);
    assert.deepEqual(u.pk, ['s']);
  }
  // A column's type "Sales" (written as the string Sales), then "Sales".st: the cached name is a prefix.
  const line = (t: string) =>
    `{"action":"I","schema":"s","table":"t","columns":[{"name":"a","type":${t},"value":"v"}]}`;
  const [before, after] = decodeAll(2, [line('"Sales"'), line('"Sales".st')]) as Insert[];
  assert.deepEqual([before?.new.types, after?.new.types], [['Sales'], ['"Sales".st']]);
  const ins = decodeAll(2, [
    '{"action":"I","schema":"s","table":"t","columns":[{"name":"a","type":"Sales".st,"value":"v"}]}',
  ])[0] as Insert;
  assert.deepEqual(ins.new.types, ['"Sales".st']);
});
