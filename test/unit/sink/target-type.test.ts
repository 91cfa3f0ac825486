// DuckDB's information_schema spells some types differently from the DDL walduck writes; the check
// that an existing target matches the source must see through that, for list types too.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { normalizeType } from '../../../src/sink/target.js';

it('reads DuckDB information_schema spellings as the declared types, for list types too', () => {
  for (const [shown, declared] of [
    ['TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ'],
    ['TIMESTAMP WITH TIME ZONE[]', 'TIMESTAMPTZ[]'],
    ['TIMESTAMP WITH TIME ZONE[][]', 'TIMESTAMPTZ[][]'],
    ['TIME WITH TIME ZONE[]', 'TIMETZ[]'],
    ['DECIMAL(18,2)', 'DECIMAL(18, 2)'],
  ] as const) {
    assert.equal(normalizeType(shown), normalizeType(declared), shown);
  }
  assert.notEqual(normalizeType('TIMESTAMP[]'), normalizeType('TIMESTAMPTZ[]'));
});
