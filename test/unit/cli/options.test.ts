// -o NAME[=VALUE] as pg_recvlogical reads it: split at the first '=', NAME alone has no value.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { UsageError } from '../../../src/cli/errors.js';
import { pluginOptions } from '../../../src/cli/options.js';

it('reads -o NAME, NAME=VALUE and NAME= in the order given', () => {
  assert.deepEqual(pluginOptions(undefined), []);
  assert.deepEqual(pluginOptions('include-xids'), [['include-xids', null]]);
  assert.deepEqual(pluginOptions(['format-version=2', 'pretty-print', 'add-tables=a.b,c=d', 'filter=']), [
    ['format-version', '2'],
    ['pretty-print', null],
    ['add-tables', 'a.b,c=d'],
    ['filter', ''],
  ]);
  assert.deepEqual(pluginOptions([1]), [['1', null]]);
});

it('refuses an empty name as a usage error', () => {
  for (const bad of ['=x', '=', '']) assert.throws(() => pluginOptions([bad]), UsageError, bad);
});
