import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PgArrayError, pgArrayToJson } from '../../../src/sink/pg-array.js';

describe('pgArrayToJson', () => {
  const cases: Array<[string, unknown]> = [
    ['{}', []],
    ['{1,2,NULL}', ['1', '2', null]],
    ['{null,NULL,"NULL"}', [null, null, 'NULL']],
    ['{"a,b","c\\"d","e\\\\f"," sp "}', ['a,b', 'c"d', 'e\\f', ' sp ']],
    [
      '{{1,2},{3,4}}',
      [
        ['1', '2'],
        ['3', '4'],
      ],
    ],
    ['{"{}","}{"}', ['{}', '}{']],
    ['{😀,"ü"}', ['😀', 'ü']],
    [
      '{2024-01-01 00:00:00+00,"2024-01-02 00:00:00+00"}',
      ['2024-01-01 00:00:00+00', '2024-01-02 00:00:00+00'],
    ],
  ];
  for (const [input, want] of cases) {
    it(`reads ${input}`, () => assert.deepEqual(JSON.parse(pgArrayToJson(input)), want));
  }
  for (const bad of [
    '',
    '{',
    '{1,2',
    '{"a}',
    '{1,,2}',
    '{1}x',
    '1,2',
    '[1:2]{1}',
    '[0:1]={7,8}',
    '[1:1][0:1]={{7,8}}',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => pgArrayToJson(bad), PgArrayError));
  }

  it('refuses a value whose dimensions are not the ones given (the column declares)', () => {
    assert.deepEqual(JSON.parse(pgArrayToJson('{{1,NULL},{3,4}}', undefined, ',', 2)), [
      ['1', null],
      ['3', '4'],
    ]);
    assert.deepEqual(JSON.parse(pgArrayToJson('{}', undefined, ',', 2)), []);
    for (const [text, dims] of [
      ['{{1,2}}', 1],
      ['{1,2}', 2],
      ['{NULL}', 2],
      ['{{1},2}', 2],
    ] as const)
      assert.throws(() => pgArrayToJson(text, undefined, ',', dims), PgArrayError, text);
  });

  it('keeps the array text (row data) out of the message, for --debug-values only', () => {
    const secret = '{"alice@example.com",,}';
    assert.throws(
      () => pgArrayToJson(secret),
      (e: unknown) =>
        e instanceof PgArrayError && !e.message.includes('alice') && e.snippet.includes('alice@example.com'),
    );
  });

  it('refuses nesting deeper than PostgreSQL prints (6), without recursing into it', () => {
    const nest = (n: number) => `${'{'.repeat(n)}1${'}'.repeat(n)}`;
    assert.deepEqual(JSON.parse(pgArrayToJson(nest(6))), [[[[[['1']]]]]]);
    assert.throws(() => pgArrayToJson(nest(7)), PgArrayError);
    // Before the bound, this overflowed the stack (a RangeError, not a clear refusal).
    assert.throws(() => pgArrayToJson(nest(200_000)), PgArrayError);
  });
  it("splits box[] on its ';' delimiter: a box's own text holds commas", () => {
    assert.deepEqual(JSON.parse(pgArrayToJson('{(1,1),(0,0);(3,3),(2,2);NULL}', undefined, ';')), [
      '(1,1),(0,0)',
      '(3,3),(2,2)',
      null,
    ]);
    assert.deepEqual(JSON.parse(pgArrayToJson('{{(1,1),(0,0)};{(2,2),(1,1)}}', undefined, ';')), [
      ['(1,1),(0,0)'],
      ['(2,2),(1,1)'],
    ]);
  });
  it('keeps Unicode white space PostgreSQL prints unquoted (only ASCII white space is trimmed)', () => {
    // Found by the property test (seed 20261201, 300 rows): "{\u00a0}" was refused as empty, and
    // "{\u3000a}" would have lost its ideographic space.
    assert.deepEqual(JSON.parse(pgArrayToJson('{\u00a0,\u3000a\u3000,\ufeffb, c }')), [
      '\u00a0',
      '\u3000a\u3000',
      '\ufeffb',
      'c',
    ]);
  });
  it('rewrites each element with the element type’s own conversion', () => {
    assert.deepEqual(JSON.parse(pgArrayToJson('{"0044-03-15 BC",NULL,2000-01-01}', (t) => `<${t}>`)), [
      '<0044-03-15 BC>',
      null,
      '<2000-01-01>',
    ]);
  });
});
