import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { align, type Candidate } from '../../../src/sink/schema-align.js';
import { sameShape } from '../../../src/sink/schema-change.js';
import { widening } from '../../../src/sink/schema-widening.js';
import type { RecordedColumn, RecordedTable } from '../../../src/sink/source-schema.js';
import type { PgType } from '../../../src/source/catalog.js';
import { type CatalogColumn, printedTypmod } from '../../../src/source/schema-catalog.js';

const int4: PgType = { typname: 'int4', typmod: -1, typtype: 'b' };
const col = (attnum: number, name: string, type = 'integer', dropped = false): RecordedColumn => ({
  attnum,
  name,
  type,
  pg: int4,
  notNull: false,
  dropped,
});
const now = (attnum: number, name: string, type = 'integer', dropped = false): CatalogColumn => ({
  attnum,
  name: dropped ? `........pg.dropped.${attnum}........` : name,
  dropped,
  type: dropped ? '-' : type,
  typid: 23,
  typmod: -1,
  dims: 1,
  missing: null,
  hasMissing: false,
  hasDefault: false,
  identity: false,
  generated: false,
});
const table = (columns: RecordedColumn[]): RecordedTable => ({
  schema: 'public',
  table: 't',
  oid: '1',
  identity: 'default',
  keyNames: ['id'],
  maxAttnum: Math.max(...columns.map((c) => c.attnum)),
  columns,
});
const image = (names: string[], types = names.map(() => 'integer')) => ({ names, types });
const attnums = (r: ReturnType<typeof align>) => (Array.isArray(r) ? r.map((c) => c.attnum) : r);
const recorded = (c: RecordedColumn, n: CatalogColumn | undefined, full = true): Candidate => ({
  attnum: c.attnum,
  rec: c,
  now: n,
  required: full && n !== undefined && !n.dropped,
});
const fresh = (n: CatalogColumn): Candidate => ({
  attnum: n.attnum,
  rec: undefined,
  now: n,
  required: false,
});

describe('sameShape', () => {
  const t = table([col(1, 'id'), col(2, 'a', 'text'), col(3, 'gone', 'text', true), col(4, 'b')]);
  it('accepts the recorded live columns, and subsets of them when the image may be partial', () => {
    assert.equal(
      sameShape(t, { ...image(['id', 'a', 'b'], ['integer', 'text', 'integer']), values: [] }, true),
      true,
    );
    assert.equal(sameShape(t, { ...image(['id', 'b']), values: [] }, false), true);
    assert.equal(sameShape(t, { ...image(['id', 'b']), values: [] }, true), false);
  });
  it('refuses a new name, a changed type, or a kept dropped column', () => {
    assert.equal(
      sameShape(t, { ...image(['id', 'a', 'c'], ['integer', 'text', 'integer']), values: [] }, true),
      false,
    );
    assert.equal(
      sameShape(t, { ...image(['id', 'a', 'b'], ['integer', 'integer', 'integer']), values: [] }, true),
      false,
    );
    assert.equal(sameShape(t, { ...image(['id', 'gone'], ['integer', 'text']), values: [] }, false), false);
  });
});

describe('align (stream columns to attnums)', () => {
  const id = col(1, 'id');
  const a = col(2, 'a');
  const b = col(3, 'b');
  it('a rename keeps the attnum the catalog still has alive', () => {
    const r = align(image(['id', 'x', 'b']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'x')),
      recorded(b, now(3, 'b')),
    ]);
    assert.deepEqual(attnums(r), [1, 2, 3]);
  });
  it('renamed twice since: the stream name matches neither, the alive attnum still decides', () => {
    const r = align(image(['id', 'x', 'b']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'y')),
      recorded(b, now(3, 'b')),
    ]);
    assert.deepEqual(attnums(r), [1, 2, 3]);
  });
  it('drop plus add: the dropped attnum is skipped, the new one taken', () => {
    const r = align(image(['id', 'b', 'c']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'a', 'integer', true)),
      recorded(b, now(3, 'b')),
      fresh(now(4, 'c')),
    ]);
    assert.deepEqual(attnums(r), [1, 3, 4]);
  });
  it('an added column later dropped is preferred to a later attnum that contradicts it', () => {
    const r = align(image(['id', 'a', 'b', 'c']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'a')),
      recorded(b, now(3, 'b')),
      fresh(now(4, 'c', 'integer', true)),
      fresh(now(5, 'z', 'text')),
    ]);
    assert.deepEqual(attnums(r), [1, 2, 3, 4]);
  });
  it('refuses a new name that a dropped attnum and a later one renamed since, of its type, both explain', () => {
    // ADD a (4), DROP a, ADD b (5) before the change with "a" was read: a is 4 (dropped since), or 5
    // renamed b since. Before, 5 won on its type, so a took b's attnum and default.
    const r = align(image(['id', 'a', 'b', 'c']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'a')),
      recorded(b, now(3, 'b')),
      fresh(now(4, 'c', 'integer', true)),
      fresh(now(5, 'z')),
    ]);
    assert.equal(r, undefined);
  });
  it('a new attnum alive now and skipped ends the matching: later ones came after the change', () => {
    const r = align(image(['id', 'a', 'b', 'z']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'a')),
      recorded(b, now(3, 'b')),
      fresh(now(4, 'e')),
      fresh(now(5, 'z')),
    ]);
    assert.deepEqual(attnums(r), [1, 2, 3, 4]);
  });
  it('refuses a tie rather than guessing', () => {
    // "b" gone and "x" new, the catalog renamed x since and dropped b: rename b->x or drop b, add x.
    const r = align(image(['id', 'a', 'x']), [
      recorded(id, now(1, 'id')),
      recorded(a, now(2, 'a')),
      recorded(b, now(3, 'b', 'integer', true)),
      fresh(now(4, 'y')),
    ]);
    assert.equal(r, undefined);
  });
  it('says when no alignment exists (a required column missing from a full image)', () => {
    assert.equal(align(image(['id']), [recorded(id, now(1, 'id')), recorded(a, now(2, 'a'))]), 'none');
  });
});

describe('widening', () => {
  const t = (typname: string, typmod = -1): PgType => ({ typname, typmod, typtype: 'b' });
  const num = (p: number, s: number) => t('numeric', ((p << 16) | s) + 4);
  it('follows the lossless ones', () => {
    assert.equal(widening(t('int4'), t('int8')), 'alter');
    assert.equal(widening(t('int2'), t('int4')), 'alter');
    assert.equal(widening(t('varchar', 14), t('varchar', 24)), 'same');
    assert.equal(widening(t('varchar', 14), t('text')), 'same');
    assert.equal(widening(num(8, 2), num(14, 2)), 'alter');
    assert.equal(widening(num(20, 2), num(30, 2)), 'alter');
    assert.equal(widening(t('int4'), t('int4')), 'same');
    assert.equal(widening(t('timestamp'), t('timestamptz')), 'timestamptz');
  });
  it('refuses narrowing, other families, scale changes and DuckDB precision loss', () => {
    assert.equal(widening(t('int8'), t('int4')), undefined);
    assert.equal(widening(t('varchar', 24), t('varchar', 9)), undefined);
    assert.equal(widening(t('text'), t('int4')), undefined);
    assert.equal(widening(num(8, 2), num(14, 3)), undefined);
    assert.equal(widening(num(8, 2), num(40, 2)), undefined);
    assert.equal(widening(num(8, 2), t('numeric')), undefined);
    assert.equal(widening(t('timestamptz'), t('timestamp')), undefined);
    assert.equal(widening(t('timestamp', 6), t('timestamp', 3)), undefined);
    assert.equal(widening(t('bpchar', 9), t('bpchar', 14)), undefined);
  });
});

describe('printedTypmod', () => {
  it('reads the modifier from format_type text', () => {
    assert.equal(printedTypmod('numeric(10,2)'), ((10 << 16) | 2) + 4);
    assert.equal(printedTypmod('character varying(20)'), 24);
    assert.equal(printedTypmod('timestamp(3) without time zone'), 3);
    assert.equal(printedTypmod('text'), -1);
  });
});
