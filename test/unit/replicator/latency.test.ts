import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Latency, pgTimestampMs } from '../../../src/replicator/latency.js';

it('reads PostgreSQL ISO timestamps with an hour-only offset', () => {
  assert.equal(pgTimestampMs('2024-01-02 03:04:05.123456+00'), Date.UTC(2024, 0, 2, 3, 4, 5, 123));
  assert.equal(pgTimestampMs('2024-01-02 05:04:05+02'), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(pgTimestampMs('not a time'), undefined);
});

it('reports quantiles of the delays of committed transactions only', () => {
  const l = new Latency();
  const base = Date.UTC(2024, 0, 1);
  const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00');
  for (let i = 0; i < 100; i++) l.seen(iso(base + i));
  l.committed(base + 100); // delays 100 .. 1 ms
  l.seen(iso(base));
  l.dropped(); // rolled back: replayed later, not counted
  assert.deepEqual(l.summary(), { transactions: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
  assert.equal(new Latency().summary(), undefined);
});
