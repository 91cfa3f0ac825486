// PostgreSQL timestamps on the wire: µs since 2000-01-01 UTC, as bigint.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { dateToPgTime, pgNow, pgTimeToDate } from '../../../src/protocol/pg-time.js';

it('counts microseconds from 2000-01-01T00:00:00Z', () => {
  assert.equal(pgTimeToDate(0n).toISOString(), '2000-01-01T00:00:00.000Z');
  assert.equal(pgTimeToDate(86_400_000_001n).toISOString(), '2000-01-02T00:00:00.000Z');
  assert.equal(pgTimeToDate(-1_000_000n).toISOString(), '1999-12-31T23:59:59.000Z');
  assert.equal(dateToPgTime(new Date('2000-01-01T00:00:01.5Z')), 1_500_000n);
  const before = dateToPgTime(new Date());
  const now = pgNow();
  assert.ok(now >= before && now - before < 5_000_000n);
});
