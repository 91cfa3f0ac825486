import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addTablesEntry, wal2jsonOptions } from '../../../src/wal2json/options.js';

describe('wal2jsonOptions', () => {
  it('asks v2 for transactions, lsns, xids, timestamps, types, pk', () => {
    const o = new Map(wal2jsonOptions({ formatVersion: 2, includeTypeOids: true }));
    assert.equal(o.get('format-version'), '2');
    for (const k of [
      'include-transaction',
      'include-lsn',
      'include-xids',
      'include-timestamp',
      'include-types',
      'include-type-oids',
      'include-pk',
    ]) {
      assert.equal(o.get(k), '1', k);
    }
    assert.equal(o.has('write-in-chunks'), false);
    assert.equal(o.has('add-tables'), false);
  });

  it('gives v1 write-in-chunks and no include-transaction; refuses write-in-chunks for v2', () => {
    const o = new Map(wal2jsonOptions({ formatVersion: 1, writeInChunks: true }));
    assert.equal(o.get('format-version'), '1');
    assert.equal(o.get('write-in-chunks'), '1');
    assert.equal(o.has('include-transaction'), false);
    assert.equal(o.has('include-type-oids'), false);
    assert.throws(() => wal2jsonOptions({ formatVersion: 2, writeInChunks: true }), RangeError);
  });

  it('escapes add-tables entries for wal2json: backslash before . , * space quote and backslash', () => {
    assert.equal(addTablesEntry({ schema: 'public', table: 'T1' }), 'public.T1');
    assert.equal(addTablesEntry({ schema: 'a.b', table: "c,d*e f'g\\h" }), "a\\.b.c\\,d\\*e\\ f\\'g\\\\h");
    const o = new Map(
      wal2jsonOptions({
        formatVersion: 2,
        tables: [
          { schema: 's', table: 't' },
          { schema: 'x', table: '*' },
        ],
      }),
    );
    assert.equal(o.get('add-tables'), 's.t,x.\\*');
    assert.throws(() => wal2jsonOptions({ formatVersion: 2, tables: [] }), RangeError);
    assert.throws(() => addTablesEntry({ schema: '', table: 't' }), RangeError);
  });
});
