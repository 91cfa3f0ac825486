import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { CatalogError } from '../../../src/source/catalog.js';
import { parseTableList, parseTableName } from '../../../src/source/table-name.js';
import { shownName } from '../../../src/wal2json/shown-name.js';

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

it('reads U&"…" names, as walduck writes a name holding a control character', () => {
  assert.deepEqual(parseTableName('public.U&"n\\000al"'), { schema: 'public', table: 'n\nl' });
  assert.deepEqual(parseTableName('u&"s\\+01F600".U&"a\\\\b""c"'), { schema: 's\u{1F600}', table: 'a\\b"c' });
  assert.deepEqual(parseTableList('U&"a,\\0009b", t'), [
    { schema: 'public', table: 'a,\tb' },
    { schema: 'public', table: 't' },
  ]);
  for (const bad of ['U&"\\00"', 'U&"\\zzzz"', 'U&"\\0000"', 'U&"\\d800"', 'U&"\\+110000"', 'U&"x\\"'])
    assert.throws(() => parseTableName(bad), /invalid Unicode escape/, bad);
});

// Characters that change how a name is written: control characters (U&"…" form), quotes, a
// backslash, dots, commas, upper case, a keyword, non-ASCII; weighted up against plain letters.
const nameChar = fc.oneof(
  fc.constantFrom('a', 'z', '_', '1', '$'),
  fc.constantFrom('\n', '\t', '\u0001', '\u007f', '\u2028', '"', '\\', '.', ',', ' ', 'A', 'É', 'ß', '😀'),
);
const ident = fc
  .oneof(
    fc.array(nameChar, { minLength: 1, maxLength: 12 }).map((c) => c.join('')),
    fc.constantFrom('select', 'user', 'Order'),
  )
  .filter((n) => Buffer.byteLength(n) <= 63);

it('reads back every name as walduck writes it (property)', () => {
  fc.assert(
    fc.property(ident, ident, (schema, table) => {
      assert.deepEqual(parseTableName(shownName({ schema, table })), { schema, table });
      assert.deepEqual(parseTableList(`${shownName({ schema, table })},x`)[0], { schema, table });
    }),
    { seed: 19, numRuns: 2000 },
  );
});
