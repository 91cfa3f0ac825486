import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CatalogError } from '../../../src/source/catalog.js';
import { parseTableList, parseTableName } from '../../../src/source/table-name.js';

it('reads table names the way PostgreSQL folds them', () => {
  assert.deepEqual(parseTableName('orders'), { schema: 'public', table: 'orders' });
  assert.deepEqual(parseTableName('Sales.Orders'), { schema: 'sales', table: 'orders' });
  assert.deepEqual(parseTableName('"My.Schema"."We""ird"'), { schema: 'My.Schema', table: 'We"ird' });
  assert.deepEqual(parseTableName('public."weird ""name""; drop"'), {
    schema: 'public',
    table: 'weird "name"; drop',
  });
  // PostgreSQL folds ASCII letters only (downcase_identifier() in a UTF8 database): Ünï.T is
  // "Ünï".t, another schema than "ünï", and the Kelvin sign is no k.
  assert.deepEqual(parseTableName('Ünï.TÀble'), { schema: 'Ünï', table: 'tÀble' });
  assert.deepEqual(parseTableName('\u212Aelvin.\u0130d'), { schema: '\u212Aelvin', table: '\u0130d' });
  // A trailing dot named public.s for 's.' (another table than the one meant, when public.s exists).
  for (const bad of ['', 'a.b.c', '"open', 'a."b"c', 's.', '"s".', '.t', 'a..b'])
    assert.throws(() => parseTableName(bad), CatalogError, bad);
});

it('cuts a name past 63 bytes at a character boundary, as PostgreSQL does', () => {
  // 'é' is two bytes: 31 of them and an ASCII letter are 63 bytes; one more 'é' would cut it.
  const fits = `${'é'.repeat(31)}x`;
  assert.equal(Buffer.byteLength(fits), 63);
  assert.deepEqual(parseTableName(`"${fits}yz"`), { schema: 'public', table: fits });
  assert.deepEqual(parseTableName(`"${'é'.repeat(32)}".t`), { schema: 'é'.repeat(31), table: 't' });
  assert.deepEqual(parseTableName(`${'A'.repeat(70)}`), { schema: 'public', table: 'a'.repeat(63) });
  assert.deepEqual(parseTableName(`"${'€'.repeat(21)}"`), { schema: 'public', table: '€'.repeat(21) });
});

it('splits a --tables list at commas outside quotes', () => {
  assert.deepEqual(parseTableList(' a, "x,y"."b,c" ,,S.t'), [
    { schema: 'public', table: 'a' },
    { schema: 'x,y', table: 'b,c' },
    { schema: 's', table: 't' },
  ]);
  assert.deepEqual(parseTableList('"a "" ,b"'), [{ schema: 'public', table: 'a " ,b' }]);
  assert.throws(() => parseTableList('"open,b'), CatalogError);
});
