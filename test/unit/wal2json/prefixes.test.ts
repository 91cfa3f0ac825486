// The v2 prefix fast paths (v2-prefix.ts) are taken for rows printed like the table's last one, and
// left for a row that differs; test/property/wal2json/prefixes.test.ts shows they give what the plain
// parse gives. Here: when the prefixes are recorded, reused and dropped, seen in the table cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Insert } from '../../../src/wal2json/change.js';
import { JsonReader } from '../../../src/wal2json/json-reader.js';
import { ImageBuilder, TableCache } from '../../../src/wal2json/row-image.js';
import { V2Decoder } from '../../../src/wal2json/v2.js';
import { enc } from './helpers.js';

const col = (name: string, type: string, oid: number, value: string) =>
  `{"name":"${name}","type":"${type}","typeoid":${oid},"value":${value}}`;
const line = (cols: readonly string[], pk = ',"pk":[{"name":"id","type":"bigint","typeoid":20}]') =>
  `{"action":"I","xid":1,"schema":"public","table":"t","columns":[${cols.join(',')}]${pk}}`;

function setup() {
  const r = new JsonReader('decode-v2', { maxDepth: 32, maxStringBytes: 1 << 20 });
  const tables = new TableCache();
  const v2 = new V2Decoder(r, tables, new ImageBuilder());
  const decode = (text: string) => {
    r.reset(enc.encode(text), true, 1n);
    const c = v2.decode(1n) as Insert;
    r.release();
    return c;
  };
  return { decode, slot: () => tables.slot('public', 't') };
}

describe('v2 prefix fast paths', () => {
  it('records a row’s prefixes, reuses them for the next row, and keeps its arrays', () => {
    const { decode, slot } = setup();
    const a = decode(line([col('id', 'bigint', 20, '1'), col('s', 'text', 25, '"x"')]));
    const prefixes = slot().newImage.prefixes;
    assert.equal(prefixes?.count, 2);
    assert.equal(
      Buffer.from(prefixes.bytes).toString(),
      '{"name":"id","type":"bigint","typeoid":20,"value":{"name":"s","type":"text","typeoid":25,"value":',
    );
    const pk = slot().pkPrinted;
    assert.deepEqual(pk?.names, ['id']);
    const b = decode(line([col('id', 'bigint', 20, '2'), col('s', 'text', 25, '"y\\"z"')]));
    assert.equal(slot().newImage.prefixes, prefixes, 'the same prefixes instance: every column matched');
    assert.equal(slot().pkPrinted, pk);
    assert.equal(b.new.names, a.new.names);
    assert.equal(b.new.types, a.new.types);
    assert.equal(b.new.typeOids, a.new.typeOids);
    assert.equal(b.pk, a.pk);
    assert.deepEqual(b.new.values, ['2', 'y"z']);
  });

  it('leaves the fast path at the first column that differs, and records the row anew', () => {
    const { decode, slot } = setup();
    decode(line([col('id', 'bigint', 20, '1'), col('s', 'text', 25, '"x"'), col('n', 'integer', 23, '3')]));
    const first = slot().newImage.prefixes;
    // s changed type (same length, other bytes): id still matches, s and n are read the plain way.
    const c = decode(
      line([
        col('id', 'bigint', 20, '1'),
        col('s', 'date', 1082, '"2024-01-01"'),
        col('n', 'integer', 23, '3'),
      ]),
    );
    assert.deepEqual(c.new.types, ['bigint', 'date', 'integer']);
    assert.deepEqual(c.new.typeOids, [20, 1082, 23]);
    const second = slot().newImage.prefixes;
    assert.notEqual(second, first);
    assert.equal(second?.count, 3);
    // An omitted column (unchanged TOAST): fewer prefixes, for the names that came.
    const d = decode(line([col('id', 'bigint', 20, '1'), col('n', 'integer', 23, '4')]));
    assert.deepEqual(d.new.names, ['id', 'n']);
    assert.equal(slot().newImage.prefixes?.count, 2);
  });

  it('records rows without type OIDs (as walduck asks), and nothing for mixed keys or another order', () => {
    const { decode, slot } = setup();
    const a = decode(
      line(['{"name":"id","type":"bigint","value":1}', '{"name":"s","type":"text","value":"x"}']),
    );
    assert.equal(slot().newImage.prefixes?.count, 2);
    const b = decode(
      line(['{"name":"id","type":"bigint","value":2}', '{"name":"s","type":"text","value":"y"}']),
    );
    assert.equal(b.new.names, a.new.names);
    assert.equal(b.new.typeOids, undefined);
    assert.deepEqual(b.new.values, ['2', 'y']);
    // One column with a type OID, one without: refused, and the table's prefixes stay as they were.
    const before = slot().newImage.prefixes;
    assert.throws(
      () => decode(line([col('id', 'bigint', 20, '1'), '{"name":"s","type":"text","value":"x"}'])),
      /2 column names but 1 type OIDs/,
    );
    assert.equal(slot().newImage.prefixes, before);
    // A column with another key before its value: no prefixes for the row.
    decode(line(['{"name":"id","type":"bigint","value":1}', '{"name":"s","type":"text","x":1,"value":"x"}']));
    assert.equal(slot().newImage.prefixes, undefined);
    decode(line(['{"value":1,"name":"id","type":"bigint","typeoid":20}']));
    assert.equal(slot().newImage.prefixes, undefined);
    decode(line([col('id', 'bigint', 20, '1')]));
    assert.equal(slot().newImage.prefixes?.count, 1);
    // The table drops its type OIDs: the first column does not match, the row records anew.
    const c = decode(line(['{"name":"id","type":"bigint","value":3}']));
    assert.equal(c.new.typeOids, undefined);
    assert.equal(slot().newImage.prefixes?.count, 1);
  });
});
