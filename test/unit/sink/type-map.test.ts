import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapType, numericPrecision } from '../../../src/sink/type-map.js';

const t = (typname: string, typmod = -1) => ({ typname, typmod, typtype: 'b' });

describe('type map', () => {
  it('unpacks numeric typmods, negative scales included', () => {
    // numeric(10,2) -> ((10 << 16) | 2) + 4
    assert.deepEqual(numericPrecision((10 << 16) + 2 + 4), { precision: 10, scale: 2 });
    assert.deepEqual(numericPrecision((5 << 16) + 0x7fd + 4), { precision: 5, scale: -3 });
    assert.equal(numericPrecision(-1), undefined);
  });
  it('maps as DuckDB’s postgres extension does', () => {
    assert.equal(mapType(t('numeric', (38 << 16) + 10 + 4)).duckType, 'DECIMAL(38,10)');
    assert.equal(mapType(t('numeric', (39 << 16) + 4)).duckType, 'DOUBLE');
    assert.equal(mapType(t('numeric')).duckType, 'DOUBLE');
    assert.equal(mapType(t('jsonb')).duckType, 'JSON');
    assert.equal(mapType(t('bytea')).duckType, 'BLOB');
    assert.equal(mapType(t('timestamptz')).duckType, 'TIMESTAMPTZ');
    assert.equal(mapType(t('inet')).duckType, 'VARCHAR');
    assert.equal(mapType({ ...t('_int4'), element: t('int4'), dims: 2 }).duckType, 'INTEGER[][]');
    assert.equal(mapType({ ...t('_bytea'), element: t('bytea'), dims: 1 }).duckType, 'VARCHAR[]');
  });
  it('converts arrays through JSON so DuckDB can read them', () => {
    const m = mapType({ ...t('_int8'), element: t('int8'), dims: 1 });
    assert.equal(m.pre?.('{1,NULL}'), '["1",null]');
    assert.equal(m.convert('x'), `CAST(from_json(x, '["VARCHAR"]') AS BIGINT[])`);
  });
});
