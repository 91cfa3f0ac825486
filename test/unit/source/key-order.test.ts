// The online copy's key order: the JS comparison must order keys exactly as the chunk SELECT's ORDER BY
// (PostgreSQL) does, or rows would be copied twice or never.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { SourceColumn, SourceTable } from '../../../src/source/catalog.js';
import { compareDecimal, keyOrder, keyOrderProblem } from '../../../src/source/key-order.js';

const col = (name: string, typname: string, declared = typname): SourceColumn => ({
  name,
  declared,
  type: { typname, typmod: -1, typtype: 'b' },
  notNull: true,
});
const table = (columns: SourceColumn[], key: number[]): SourceTable => ({
  schema: 'public',
  table: 't',
  columns,
  key,
  identity: 'default',
});

it('numeric keys compare as exact decimals, with PostgreSQL special values in its order', () => {
  const sorted = [
    '-Infinity',
    '-10.5',
    '-2',
    '-0.001',
    '0',
    '0.000',
    '1',
    '1.0001',
    '9.99',
    '10',
    '123456789012345678901234567890.5',
    'Infinity',
    'NaN',
  ];
  for (let i = 0; i < sorted.length; i++)
    for (let j = 0; j < sorted.length; j++) {
      const a = sorted[i] ?? '';
      const b = sorted[j] ?? '';
      const want = a === '0' && b === '0.000' ? 0 : a === '0.000' && b === '0' ? 0 : Math.sign(i - j);
      assert.equal(Math.sign(compareDecimal(a, b)), want, `${a} vs ${b}`);
    }
});

it('integer keys beyond 2^53 compare exactly; text keys in UTF-8 byte order (COLLATE "C")', () => {
  const ints = keyOrder(table([col('id', 'int8')], [0]));
  assert.ok(ints.compare(['9007199254740993'], ['9007199254740992']) > 0);
  assert.ok(ints.compare(['-1'], ['0']) < 0);
  const text = keyOrder(table([col('k', 'text'), col('n', 'int4')], [0, 1]));
  // U+FF61 sorts before U+1F600 in UTF-8 bytes and in UTF-16 code units the other way round.
  assert.ok(text.compare(['\uff61', '1'], ['\u{1f600}', '0']) < 0);
  assert.ok(text.compare(['a', '2'], ['a', '10']) < 0);
  assert.equal(text.orderBy, '"k" COLLATE "C", "n"');
  assert.equal(text.after(["it's", '5'], true), `("k" COLLATE "C", "n") > ('it''s' COLLATE "C", '5')`);
  assert.equal(text.after(['x', '5'], false), `("k" COLLATE "C", "n") >= ('x' COLLATE "C", '5')`);
});

it('a keyless table or a key type without an exact order is refused in one line', () => {
  assert.match(
    keyOrderProblem(table([col('v', 'int4')], [])) ?? '',
    /has no primary key .* give it a primary key/,
  );
  assert.match(
    keyOrderProblem(table([col('at', 'timestamptz', 'timestamp with time zone')], [0])) ?? '',
    /key column at of type timestamp with time zone, which an online copy cannot order exactly/,
  );
  assert.equal(keyOrderProblem(table([col('id', 'uuid')], [0])), undefined);
});
