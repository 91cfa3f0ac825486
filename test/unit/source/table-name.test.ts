import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CatalogError, parseTableName } from '../../../src/source/catalog.js';

it('reads table names the way PostgreSQL folds them', () => {
  assert.deepEqual(parseTableName('orders'), { schema: 'public', table: 'orders' });
  assert.deepEqual(parseTableName('Sales.Orders'), { schema: 'sales', table: 'orders' });
  assert.deepEqual(parseTableName('"My.Schema"."We""ird"'), { schema: 'My.Schema', table: 'We"ird' });
  assert.deepEqual(parseTableName('public."weird ""name""; drop"'), {
    schema: 'public',
    table: 'weird "name"; drop',
  });
  for (const bad of ['', 'a.b.c', '"open', 'a."b"c'])
    assert.throws(() => parseTableName(bad), CatalogError, bad);
});
