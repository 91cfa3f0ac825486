// wal2json writes a format_type text that starts with a quote (and is not an array) as it is, so the
// quotes become JSON's: the names walduck compares must be the ones its decoder reads.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  sameTypeName,
  typeAsWal2jsonWrites,
  wal2jsonWritesTypeAsJson,
} from '../../../src/wal2json/type-name.js';

it('reads a quoted type name as wal2json writes it', () => {
  assert.equal(typeAsWal2jsonWrites('"char"'), 'char');
  assert.equal(typeAsWal2jsonWrites('"user"'), 'user');
  assert.equal(typeAsWal2jsonWrites('"char"[]'), '"char"[]'); // an array is escaped properly
  assert.equal(typeAsWal2jsonWrites('s."My Enum"'), 's."My Enum"'); // does not start with a quote
  assert.equal(typeAsWal2jsonWrites('"Odd S"."My Enum"'), '"Odd S"."My Enum"'); // not JSON
  assert.equal(typeAsWal2jsonWrites('character(1)'), 'character(1)');
  assert.ok(sameTypeName('char', '"char"'));
  assert.ok(sameTypeName('text', 'text'));
  assert.ok(!sameTypeName('char', 'character(1)'));
  assert.ok(!sameTypeName('"char"', 'char'));
  assert.ok(wal2jsonWritesTypeAsJson('"char"') && wal2jsonWritesTypeAsJson('s."My Enum"'));
  assert.ok(wal2jsonWritesTypeAsJson('"Odd S"."My Enum"[]') && wal2jsonWritesTypeAsJson('text'));
  assert.ok(!wal2jsonWritesTypeAsJson('"Odd S"."My Enum"') && !wal2jsonWritesTypeAsJson('"a""b"'));
});
