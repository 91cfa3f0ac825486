// -o NAME[=VALUE] as pg_recvlogical reads it: split at the first '=', NAME alone has no value. And
// --tables / TABLE_NAME: a --tables naming no table is refused, never read as every table.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { UsageError } from '../../../src/cli/errors.js';
import { chosenTables, connectionSettings, pluginOptions, tableOption } from '../../../src/cli/options.js';

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

it('--tables naming no table is a usage error; an empty TABLE_NAME is unset', () => {
  const saved = process.env.TABLE_NAME;
  try {
    delete process.env.TABLE_NAME;
    assert.equal(chosenTables(undefined), undefined);
    for (const none of ['', ' ', ',', ' , '])
      assert.throws(() => chosenTables(none), UsageError, JSON.stringify(none));
    assert.deepEqual(chosenTables('a, s.b'), [
      { schema: 'public', table: 'a' },
      { schema: 's', table: 'b' },
    ]);
    process.env.TABLE_NAME = ' ';
    assert.equal(chosenTables(undefined), undefined);
    process.env.TABLE_NAME = ' , ';
    assert.throws(() => chosenTables(undefined), UsageError);
    process.env.TABLE_NAME = 'x';
    assert.deepEqual(chosenTables(undefined), [{ schema: 'public', table: 'x' }]);
    // The flag wins over the environment, as before.
    assert.deepEqual(chosenTables('y'), [{ schema: 'public', table: 'y' }]);
  } finally {
    if (saved === undefined) delete process.env.TABLE_NAME;
    else process.env.TABLE_NAME = saved;
  }
});

// A name that cannot be read used to fail as "preflight failed", exit 1, as if something had been tried.
it('a --tables, TABLE_NAME or --table name that cannot be read is a usage error naming the option', () => {
  const saved = process.env.TABLE_NAME;
  try {
    delete process.env.TABLE_NAME;
    for (const bad of ['"a.b', 'a.b.c', 'x,"s"t', 's.'])
      assert.throws(() => chosenTables(bad), { name: 'UsageError', message: /^--tables: / }, bad);
    process.env.TABLE_NAME = '"unterminated';
    assert.throws(() => chosenTables(undefined), {
      name: 'UsageError',
      message: /^TABLE_NAME: unterminated/,
    });
    assert.throws(() => tableOption('--table', '"a.b'), {
      name: 'UsageError',
      message: /^--table: unterminated/,
    });
    assert.deepEqual(tableOption('--table', '"My Schema"."Ta,ble"'), {
      schema: 'My Schema',
      table: 'Ta,ble',
    });
  } finally {
    if (saved === undefined) delete process.env.TABLE_NAME;
    else process.env.TABLE_NAME = saved;
  }
});

it('-d as a URL: an unknown parameter is named, not taken for a word after the password', () => {
  // Before, -d was written back into a conninfo string and parsed again, so every URL parameter
  // came after the password and "?foo=bar" was reported as "a word after the password".
  assert.throws(
    () => connectionSettings({ dbname: 'postgres://u:S3cret@db.example/shop?foo=bar' }, {}),
    (err: Error) => /unknown connection setting "foo"/.test(err.message) && !err.message.includes('S3cret'),
  );
  // A conninfo's words after an unquoted password stay unnamed (they may be part of it).
  assert.throws(
    () => connectionSettings({ dbname: "host=db.example password=my secret='x'" }, {}),
    (err: Error) => /a word after the password/.test(err.message) && !err.message.includes('secret'),
  );
  const s = connectionSettings(
    { dbname: "postgres://u:p%27w@db.example:6000/sh'op?sslmode=disable", host: 'other', port: '6001' },
    {},
  );
  assert.deepEqual(
    [s.host, s.port, s.user, s.password, s.database, s.sslmode],
    ['other', 6001, 'u', "p'w", "sh'op", 'disable'],
  );
});
