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
    ['[0:1]={7,8}', ['7', '8']],
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
  for (const bad of ['', '{', '{1,2', '{"a}', '{1,,2}', '{1}x', '1,2', '[1:2]{1}']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => pgArrayToJson(bad), PgArrayError));
  }
});
