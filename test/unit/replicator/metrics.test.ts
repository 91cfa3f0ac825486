// The operator's view: Prometheus text on /metrics, readiness on /healthz.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newFigures } from '../../../src/replicator/loop.js';
import { Health, serveMetrics } from '../../../src/replicator/metrics.js';

describe('metrics', () => {
  it('renders every figure in the text format, with errors by code', () => {
    const h = new Health(1000, () => 10_000);
    h.connection({ kind: 'connected' });
    h.connection({ kind: 'failed', code: '57P01', transient: true });
    h.connection({ kind: 'connected' });
    const f = newFigures(100n);
    Object.assign(f, {
      applied: 500n,
      serverEnd: 800n,
      changes: 7,
      transactions: 3,
      lastCommitAt: 9000,
      lastSourceCommitAt: 8000,
    });
    h.figures = f;
    h.slot = { retainedBytes: 4096n, walStatus: 'reserved', safeWalSize: undefined };
    const text = h.render();
    for (const line of [
      'walduck_up 1',
      'walduck_applied_lsn 500',
      'walduck_flushed_lsn 500',
      'walduck_server_wal_end_lsn 800',
      'walduck_lag_bytes 300',
      'walduck_lag_seconds 2',
      'walduck_changes_applied_total 7',
      'walduck_transactions_applied_total 3',
      'walduck_last_commit_timestamp_seconds 9',
      'walduck_reconnects_total 1',
      'walduck_errors_total{code="57P01"} 1',
      'walduck_slot_retained_wal_bytes 4096',
      'walduck_slot_wal_status{status="reserved"} 1',
    ]) {
      assert.ok(text.split('\n').includes(line), `missing ${line} in\n${text}`);
    }
    for (const l of text.split('\n').filter((x) => x && !x.startsWith('#'))) {
      assert.match(l, /^walduck_[a-z_]+(\{[a-z]+="[^"\\\n]*"\})? -?\d+(\.\d+)?$/);
    }
    assert.ok(text.split('\n').includes('walduck_slot_in_danger 0'), text);
  });

  it('shows a slot in danger: safe_wal_size, its budget, and the danger flag', () => {
    const h = new Health(1000);
    h.slot = {
      retainedBytes: 90n << 20n,
      walStatus: 'extended',
      safeWalSize: 70n << 20n,
      maxKeepBytes: 160n << 20n,
      danger: 'slot extended, safe_wal_size 70.0 MB of 160.0 MB',
    };
    const lines = h.render().split('\n');
    for (const line of [
      `walduck_slot_safe_wal_size_bytes ${70 << 20}`,
      `walduck_slot_max_wal_keep_bytes ${160 << 20}`,
      'walduck_slot_wal_status{status="extended"} 1',
      'walduck_slot_in_danger 1',
    ])
      assert.ok(lines.includes(line), `missing ${line}`);
    // No limit on the server (-1): no budget to show.
    h.slot = { ...h.slot, maxKeepBytes: -(1n << 20n), safeWalSize: undefined };
    assert.ok(!h.render().includes('walduck_slot_max_wal_keep_bytes'));
  });

  it('/healthz is 200 only when connected and within --ready-lag', async () => {
    const h = new Health(100);
    const s = await serveMetrics(h, '127.0.0.1', 0);
    try {
      const get = async (p: string) => (await fetch(`http://127.0.0.1:${s.port}${p}`)).status;
      assert.equal(await get('/healthz'), 503);
      h.connection({ kind: 'connected' });
      h.figures = { ...newFigures(0n), applied: 1000n, serverEnd: 1050n };
      assert.equal(await get('/healthz'), 200);
      h.figures = { ...newFigures(0n), applied: 1000n, serverEnd: 1500n };
      assert.equal(await get('/healthz'), 503);
      assert.equal(await get('/metrics'), 200);
      assert.equal(await get('/nope'), 404);
    } finally {
      await s.close();
    }
  });
});
