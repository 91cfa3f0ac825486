// The same workload captured as v2 lines, v1 documents and v1 write-in-chunks messages decodes to the
// same change sequence, modulo what one format lacks: v1 has no TRUNCATE, and prints "pk" only for
// some tables; a whole v1 document carries one lsn for all its events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change } from '../../../src/wal2json/change.js';
import { decodeFixture } from '../../unit/wal2json/helpers.js';

const comparable = (cs: readonly Change[], keepLsn: boolean): unknown[] =>
  cs
    .filter((c) => c.kind !== 'truncate')
    .map((c) => {
      const { pk: _pk, lsn, ...rest } = c as Change & { pk?: unknown };
      return keepLsn || c.kind === 'commit' ? { ...rest, lsn } : rest;
    });

describe('wal2json formats agree on the captured workload', () => {
  const v2 = decodeFixture('v2');
  const v1 = decodeFixture('v1');
  const chunks = decodeFixture('v1-chunks');

  it('v1 write-in-chunks and v2 give the same events at the same LSNs', () => {
    assert.ok(v2.length > 150);
    assert.deepEqual(comparable(chunks, true), comparable(v2, true));
  });

  it('whole v1 documents and v2 give the same events and the same commit LSNs', () => {
    assert.deepEqual(comparable(v1, false), comparable(v2, false));
  });

  it('v2 has the truncates v1 cannot express, and nothing else more', () => {
    const extra = v2.length - v1.length;
    assert.equal(extra, v2.filter((c) => c.kind === 'truncate').length);
    assert.ok(extra > 0);
  });
});
