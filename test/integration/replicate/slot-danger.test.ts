// The slot cannot fill the disk unnoticed: while walduck's replication link is stalled (half-open,
// so nothing is acknowledged) the server writes WAL until the slot's wal_status leaves 'reserved'
// and safe_wal_size runs low. walduck says so in the log once per change for the worse, keeps it in
// the progress line and /metrics while it lasts, and says once that it is over when the slot
// catches up again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { throughProxy } from '../../helpers/faults.js';
import { useWorkdir } from '../../helpers/workdir.js';

// A small budget, so a few 16 MB segments take the slot through the states:
//  - 'extended' once it holds more than max_wal_size (+1 segment), i.e. 4 segments behind;
//  - low once safe_wal_size < 80 MB (half of 160 MB: lowThreshold), i.e. 6 segments behind;
//  - 'unreserved' only past 10 segments, which the test never reaches.
// wal_sender_timeout is long so that neither end gives up on the stalled link during the test.
const c = useCluster({
  settings: {
    max_wal_size: "'32MB'",
    min_wal_size: "'32MB'",
    max_slot_wal_keep_size: "'160MB'",
    wal_sender_timeout: "'10min'",
  },
});
const dir = useWorkdir('walduck-danger-');

const SLOT = 'danger';

function slotState(slot = SLOT): { status: string; safe: number } {
  const [status, safe] = psql(
    c.info,
    `SELECT coalesce(wal_status, '') || ',' || coalesce(safe_wal_size, 0) FROM pg_replication_slots WHERE slot_name = '${slot}'`,
  ).split(',');
  return { status: status ?? '', safe: Number(safe) };
}

/** Moves the server's WAL on by whole segments (a row, then a switch) until `done`. */
function writeWalUntil(
  done: (s: { status: string; safe: number }) => boolean,
  slot = SLOT,
  mayLose = false,
): void {
  for (let i = 0; i < 30; i++) {
    const s = slotState(slot);
    if (done(s)) return;
    if (!mayLose) assert.notEqual(s.status, 'unreserved', 'went too far: the slot is about to be lost');
    psql(c.info, 'INSERT INTO pad VALUES (1)');
    psql(c.info, 'SELECT pg_switch_wal()');
  }
  assert.fail(`the slot never got there: ${JSON.stringify(slotState(slot))}`);
}

/** `walduck replicate` of `table` on `slot` (into `<slot>.duckdb`), looking at the slot every second. */
const follow =
  (table: string, slot: string, ...extra: string[]) =>
  (source: string) => [
    'replicate',
    '--source',
    source,
    '--duckdb',
    join(dir, `${slot}.duckdb`),
    '--tables',
    table,
    '--slot',
    slot,
    '--slot-check-interval',
    '1',
    '--progress-interval',
    '1',
    ...extra,
  ];

const MB = 1024 * 1024;
const WARNED = /walduck: warning: replication slot danger is in danger: /;
const CLEARED = /walduck: replication slot danger is out of danger again: wal_status reserved/;
const PROGRESS = /^walduck replicate: \d+ changes/;
const PROGRESS_WARNED =
  /^walduck replicate: .*; WARNING: slot extended, safe_wal_size \d+\.\d MB of 160\.0 MB$/;

it('warns once per change as wal_status leaves reserved and safe_wal_size runs low, and clears', {
  timeout: 240_000,
}, async () => {
  psql(c.info, 'CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE pad (x int)');
  const run = await throughProxy(c.info, follow('t', SLOT, '--metrics', '127.0.0.1:0'));
  const { proxy, lines } = run;
  const until = (re: RegExp, from = 0) => lines.next(re, from);
  const metric = async (name: string) => {
    const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(lines.all.join('\n'))?.[1];
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  };
  try {
    await until(/streaming from slot danger/);
    psql(c.info, 'INSERT INTO t VALUES (1)');
    const calm = await until(/^walduck replicate: 1 changes/);
    assert.doesNotMatch(lines.all[calm] ?? '', /WARNING/);
    assert.equal(await metric('walduck_slot_in_danger'), '0');

    // The replication link goes silent: the slot stops advancing; side connections still pass.
    proxy.stallOpen();

    // 1. wal_status leaves 'reserved' (safe_wal_size still above the threshold).
    writeWalUntil((s) => s.status === 'extended');
    assert.ok(slotState().safe >= 80 * MB, JSON.stringify(slotState()));
    const w1 = await until(WARNED);
    assert.match(
      lines.all[w1] ?? '',
      /wal_status extended, safe_wal_size \d+\.\d MB of max_slot_wal_keep_size 160\.0 MB/,
    );
    await until(PROGRESS_WARNED, w1);

    // 2. safe_wal_size runs low: a change for the worse, so a second warning.
    writeWalUntil((s) => s.safe < 80 * MB);
    assert.ok(slotState().safe >= 40 * MB, 'still above the next halving');
    const w2 = await until(WARNED, w1 + 1);
    // Several more looks at the same state (one a second; each progress line is a second apart):
    // the progress line keeps the warning, the log does not repeat it.
    let at = w2;
    for (let i = 0; i < 4; i++) at = await until(PROGRESS, at + 1);
    const during = lines.all.slice(w2 + 1, at + 1).filter((l) => PROGRESS.test(l));
    assert.ok(during.length >= 4);
    for (const l of during) assert.match(l, PROGRESS_WARNED);
    assert.equal(lines.count(WARNED), 2, lines.all.join('\n'));
    assert.equal(await metric('walduck_slot_in_danger'), '1');
    assert.equal(await metric('walduck_slot_wal_status{status="extended"}'), '1');
    assert.equal(await metric('walduck_slot_max_wal_keep_bytes'), String(160 * MB));

    // 3. The link heals: walduck reconnects, catches up, the slot advances and the danger is over.
    proxy.heal();
    const reconnected = await until(/streaming from slot danger/, w2 + 1);
    // restart_lsn moves on at the server's next running-transactions record (a checkpoint writes
    // one; otherwise the background writer does, every 15 s): ask for it until walduck sees it.
    let cleared: number | undefined;
    const clear = until(CLEARED, reconnected).then((i) => {
      cleared = i;
    });
    while (cleared === undefined && lines.ended === undefined) {
      psql(c.info, 'CHECKPOINT');
      await Promise.race([clear, sleep(1000)]);
    }
    await clear;
    const calmAgain = await until(PROGRESS, (cleared ?? 0) + 1);
    assert.doesNotMatch(lines.all[calmAgain] ?? '', /WARNING/);
    assert.equal(lines.count(CLEARED), 1);
    assert.equal(lines.count(WARNED), 2, 'no warning repeated per look');
    assert.equal(await metric('walduck_slot_in_danger'), '0');
    assert.equal(slotState().status, 'reserved');
    // What the operator saw, for the record.
    const said = (l: string) => WARNED.test(l) || CLEARED.test(l) || /reconnecting/.test(l);
    const shown = [lines.all[w2 + 1], lines.all[calmAgain]];
    process.stderr.write(`${[...lines.all.filter(said), ...shown].join('\n')}\n`);
  } finally {
    run.child.kill('SIGTERM');
    // Only once walduck is gone: a reset during its clean stop would be a (correct) failure exit.
    await run.done;
    await proxy.close();
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  // Its WAL would otherwise hold the next tests' budget.
  psql(c.info, `SELECT pg_drop_replication_slot('${SLOT}')`);
});

/**
 * Follows `table` on `slot` through a proxy until the first change arrived, then stalls the link
 * both ways; `harm` does what it does to the slot meanwhile; then the link heals. Resolves with how
 * walduck ended.
 */
async function stallThen(
  table: string,
  slot: string,
  harm: (until: (re: RegExp) => Promise<number>) => Promise<void> | void,
) {
  psql(c.info, `CREATE TABLE ${table} (id int PRIMARY KEY)`);
  const run = await throughProxy(c.info, follow(table, slot));
  const { proxy, lines } = run;
  try {
    await lines.next(new RegExp(`streaming from slot ${slot}`));
    psql(c.info, `INSERT INTO ${table} VALUES (1)`);
    await lines.next(/^walduck replicate: 1 changes/);
    proxy.stallOpen();
    await harm((re) => lines.next(re));
    proxy.heal();
    // Never a hang: a permanent failure must end walduck by itself.
    return await run.done;
  } finally {
    run.child.kill('SIGKILL');
    await proxy.close();
  }
}

/** The last line walduck wrote, and how many reconnects it tried. */
function ending(stderr: string): { last: string; retries: number } {
  const lines = stderr.trim().split('\n');
  return { last: lines.at(-1) ?? '', retries: lines.filter((l) => /reconnecting, attempt/.test(l)).length };
}

it('stops at once, with one line, when the server invalidated the slot while walduck was away', {
  timeout: 240_000,
}, async () => {
  const r = await stallThen('l', 'lost', async (until) => {
    // Past max_slot_wal_keep_size, then a checkpoint removes the WAL: the server terminates the
    // walsender holding the slot and invalidates it.
    writeWalUntil((s) => s.status === 'unreserved' || s.status === 'lost', 'lost', true);
    for (let i = 0; i < 10 && slotState('lost').status !== 'lost'; i++) psql(c.info, 'CHECKPOINT');
    assert.equal(slotState('lost').status, 'lost');
    // The guard says so while walduck is away (a look caught by the stall takes a few seconds more).
    await until(/warning: replication slot lost is in danger: wal_status lost/);
  });
  assert.equal(r.code, 1, r.stderr);
  const e = ending(r.stderr);
  assert.match(
    e.last,
    /^walduck: .*replication slot lost was invalidated by the server \(wal_status = 'lost'/,
  );
  assert.equal(e.retries, 1, 'one reconnect (the link was cut), then no retry of a permanent failure');
});

it('stops at once, with one line, when the slot was dropped while walduck was away', {
  timeout: 240_000,
}, async () => {
  const r = await stallThen('g', 'gone', async () => {
    // The walsender on the silent link is ended by hand; then the slot, free, is dropped.
    psql(
      c.info,
      "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'gone'",
    );
    for (;;) {
      const active = psql(c.info, "SELECT active FROM pg_replication_slots WHERE slot_name = 'gone'");
      if (active === 'f') break;
      await sleep(100);
    }
    psql(c.info, "SELECT pg_drop_replication_slot('gone')");
  });
  assert.equal(r.code, 1, r.stderr);
  const e = ending(r.stderr);
  assert.match(e.last, /^walduck: .*replication slot gone no longer exists but DuckDB holds changes up to/);
  assert.equal(e.retries, 1, 'one reconnect (the link was cut), then no retry of a permanent failure');
});
