// The progress line: rewritten in place on a terminal, plain lines otherwise, and the final figures.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { formatBytes, parseBytes } from '../../../src/cli/format.js';
import { ProgressDisplay } from '../../../src/cli/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { out: { isTTY, write: (s: string) => chunks.push(s) }, chunks };
}

describe('ProgressDisplay', () => {
  let now = 0;
  beforeEach(() => {
    now = 1_000_000;
    mock.timers.enable({ apis: ['setInterval'] });
  });
  afterEach(() => mock.timers.reset());

  const figures = (changes: number, bytes: number) => ({
    changes,
    transactions: changes / 10,
    bytes,
    lsn: 0x1000n,
    serverEnd: 0x1800n,
  });

  it('on a terminal rewrites one line four times a second, then clears it', () => {
    const { out, chunks } = sink(true);
    const p = new ProgressDisplay({ command: 'stream', out, now: () => now });
    p.update(figures(1000, 2 * 1024 * 1024));
    now += 250;
    mock.timers.tick(250);
    assert.equal(chunks.length, 1);
    assert.equal(
      chunks[0],
      '\r\x1b[Kwalduck stream: 1000 changes (4000/s, 8.00 MB/s), 100 transactions, at 0/1000, lag 2048 bytes (2048 bytes)',
    );
    p.finish(figures(1000, 2 * 1024 * 1024), { slot: 's', startLsn: 0n, stoppedBy: 'endpos' });
    assert.equal(chunks.at(-1), '\r\x1b[K');
  });

  it('elsewhere writes a plain line per interval, and nothing before there is something to say', () => {
    const { out, chunks } = sink(false);
    const p = new ProgressDisplay({ command: 'replicate', out, intervalSeconds: 5, now: () => now });
    now += 5000;
    mock.timers.tick(5000);
    assert.equal(chunks.length, 0);
    p.update(figures(500, 1024 * 1024));
    now += 5000;
    mock.timers.tick(5000);
    // The rate covers the whole 10 s since the start: the first tick had nothing to show.
    assert.deepEqual(chunks, [
      'walduck replicate: 500 changes (50/s, 0.10 MB/s), 50 transactions, at 0/1000, lag 2048 bytes (2048 bytes)\n',
    ]);
    const s = p.finish(figures(500, 1024 * 1024), { slot: 's', startLsn: 0x10n, stoppedBy: 'signal' });
    assert.equal(chunks.length, 1, 'no terminal codes when not a terminal');
    assert.equal(s.seconds, 10);
    assert.equal(s.changes_per_second, 50);
    assert.equal(s.mb_per_second, 0.1);
    assert.equal(s.lag_bytes, 2048);
    assert.equal(s.start_lsn, '0/10');
    assert.equal(s.server_wal_end, '0/1800');
  });

  it('keeps a note (a slot in danger) at the end of every line while it lasts, then drops it', () => {
    const { out, chunks } = sink(false);
    const p = new ProgressDisplay({ command: 'replicate', out, intervalSeconds: 1, now: () => now });
    p.update(figures(10, 10));
    p.setNote('slot extended, safe_wal_size 79.9 MB of 160.0 MB');
    for (let i = 0; i < 2; i++) {
      now += 1000;
      mock.timers.tick(1000);
    }
    p.setNote(undefined);
    now += 1000;
    mock.timers.tick(1000);
    assert.equal(chunks.length, 3);
    for (const c of chunks.slice(0, 2))
      assert.match(
        c,
        /lag 2048 bytes \(2048 bytes\); WARNING: slot extended, safe_wal_size 79.9 MB of 160.0 MB\n$/,
      );
    assert.match(chunks[2] ?? '', /lag 2048 bytes \(2048 bytes\)\n$/);
    p.finish(figures(10, 10), { slot: 's', startLsn: 0n, stoppedBy: 'endpos' });
  });

  it('interval 0 means no lines at all', () => {
    const { out, chunks } = sink(false);
    const p = new ProgressDisplay({ command: 'x', out, intervalSeconds: 0, now: () => now });
    p.update(figures(10, 10));
    mock.timers.tick(60_000);
    assert.equal(chunks.length, 0);
    p.finish(figures(10, 10), { slot: 's', startLsn: 0n, stoppedBy: 'endpos' });
  });
});

describe('sizes', () => {
  it('shows bytes as pg_size_pretty does', () => {
    assert.equal(formatBytes(0n), '0 bytes');
    assert.equal(formatBytes(10239), '10239 bytes');
    assert.equal(formatBytes(10240), '10 kB');
    assert.equal(formatBytes(3n * 1024n * 1024n * 1024n), '3072 MB');
    assert.equal(formatBytes(20n * 1024n * 1024n * 1024n), '20 GB');
  });
  it('reads sizes with units', () => {
    assert.equal(parseBytes('512MB'), 512n << 20n);
    assert.equal(parseBytes('1 gb'), 1n << 30n);
    assert.equal(parseBytes('4096'), 4096n);
    assert.equal(parseBytes('lots'), undefined);
    assert.equal(parseBytes('-1GB'), undefined);
  });
});
