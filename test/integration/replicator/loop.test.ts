// The replication loop in process: a scripted walsender, an in-memory DuckDB, the real decoder and
// sink. What the server hears is checked as it arrives: never a flushed LSN the sink has not committed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Lsn } from '../../../src/protocol/lsn.js';
import type { ReplicationStream } from '../../../src/protocol/replication/stream.js';
import { Latency } from '../../../src/replicator/latency.js';
import { type LoopEnd, newFigures, runLoop, type StopAt, systemClock } from '../../../src/replicator/loop.js';
import { DuckDbSink } from '../../../src/sink/duckdb-sink.js';
import type { ChangeSink } from '../../../src/sink/sink.js';
import type { SourceTable } from '../../../src/source/catalog.js';
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder } from '../../../src/wal2json/index.js';
import { transaction, Walsender } from './walsender.js';

const TABLE: SourceTable = {
  schema: 'public',
  table: 't',
  columns: [
    { name: 'id', declared: 'integer', type: { typname: 'int4', typmod: -1, typtype: 'b' }, notNull: true },
    { name: 'v', declared: 'text', type: { typname: 'text', typmod: -1, typtype: 'b' }, notNull: false },
  ],
  key: [0],
  identity: 'default',
};

/**
 * The real sink, with a commit that takes a few turns of the event loop (as a disk does), and a record
 * of what is durable: an ack sent before the commit returned would reach the server while `durable` is
 * still behind it.
 */
class WatchedSink implements ChangeSink {
  durable: Lsn;
  onApply: ((c: Change) => void) | undefined;
  /** While true, commit() leaves the batch open, as the sink does while a rename's owner is unsettled. */
  hold = false;
  constructor(readonly inner: DuckDbSink) {
    this.durable = inner.storedLsn;
  }
  get storedLsn() {
    return this.inner.storedLsn;
  }
  get inSourceTransaction() {
    return this.inner.inSourceTransaction;
  }
  get hasUncommitted() {
    return this.inner.hasUncommitted;
  }
  get due() {
    return this.inner.due;
  }
  async apply(c: Change) {
    await this.inner.apply(c);
    this.onApply?.(c);
  }
  async commit() {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    if (this.hold) return undefined;
    const lsn = await this.inner.commit();
    if (lsn !== undefined) this.durable = lsn;
    return lsn;
  }
  rollback() {
    return this.inner.rollback();
  }
  async advanceIdle(lsn: Lsn) {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const moved = await this.inner.advanceIdle(lsn);
    if (moved) this.durable = this.inner.storedLsn;
    return moved;
  }
}

const instances: DuckDBInstance[] = [];
after(() => {
  for (const i of instances) i.closeSync();
});

interface Rig {
  readonly server: Walsender;
  readonly sink: WatchedSink;
  readonly duck: DuckDBConnection;
  readonly stream: ReplicationStream;
  readonly run: (stopAt: StopAt, signal?: AbortSignal) => Promise<LoopEnd>;
  readonly violations: string[];
}

async function rig(): Promise<Rig> {
  const instance = await DuckDBInstance.create(':memory:');
  instances.push(instance);
  const duck = await instance.connect();
  const inner = await DuckDbSink.open(duck, [TABLE], {
    slot: 's',
    batchChanges: 1,
    batchMs: 60_000,
    log: () => {},
    warn: () => {},
  });
  const sink = new WatchedSink(inner);
  const violations: string[] = [];
  const server = await Walsender.start((u) => {
    if (u.flush > sink.durable)
      violations.push(`flush ${u.flush} reported while ${sink.durable} was durable`);
  });
  const conn = await server.connect();
  // No interval feedback during the test: every flush the server hears was sent by the loop itself.
  const stream = await conn.startReplication({ slot: 's', startLsn: 0n, feedbackIntervalMs: 3_600_000 });
  const run = (stopAt: StopAt, signal?: AbortSignal) =>
    runLoop({
      stream,
      decoder: createDecoder({ formatVersion: 2 }),
      sink,
      clock: systemClock,
      stopAt,
      batchMs: 60_000,
      figures: newFigures(0n),
      latency: new Latency(),
      signal,
    }).finally(() => conn.close());
  return { server, sink, duck, stream, run, violations };
}

async function ids(duck: DuckDBConnection): Promise<number[]> {
  const r = await duck.runAndReadAll('SELECT id FROM t ORDER BY id');
  return r.getRows().map((row) => Number(row[0]));
}

async function stored(duck: DuckDBConnection): Promise<string> {
  const r = await duck.runAndReadAll("SELECT lsn FROM walduck.state WHERE slot = 's'");
  return String(r.getRows()[0]?.[0]);
}

/** As PostgreSQL sends it: the begin at the transaction's start, the commit at its end. */
async function sendTx(server: Walsender, tx: ReturnType<typeof transaction>): Promise<void> {
  await server.xlog(tx.start, tx.begin);
  for (const i of tx.inserts) await server.xlog(tx.start, i);
  await server.xlog(tx.end, tx.commit);
}

describe('replication loop (in process)', () => {
  it('acknowledges each commit right after it, never before', async () => {
    const r = await rig();
    const stop = new AbortController();
    const done = r.run({ kind: 'never' }, stop.signal);
    await sendTx(r.server, transaction(1, 0x100n, 0x200n, [1, 2]));
    // Feedback interval is an hour: only the loop's own after-commit feedback can report this.
    await r.server.flushed(0x200n);
    await sendTx(r.server, transaction(2, 0x200n, 0x300n, [3]));
    await r.server.flushed(0x300n);
    stop.abort();
    assert.equal(await done, 'signal');
    await r.server.close();
    assert.deepEqual(r.violations, []);
    assert.deepEqual(await ids(r.duck), [1, 2, 3]);
    assert.equal(await stored(r.duck), '0/300');
  });

  it('stops at --endpos inside a transaction without applying or acknowledging any of it', async () => {
    const r = await rig();
    const done = r.run({ kind: 'endpos', lsn: 0x250n });
    await sendTx(r.server, transaction(1, 0x100n, 0x200n, [1]));
    // endpos 0/250 falls between this transaction's start (0/200) and its end (0/300).
    await sendTx(r.server, transaction(2, 0x200n, 0x300n, [2, 3]));
    assert.equal(await done, 'endpos');
    await r.server.close();
    assert.deepEqual(r.violations, []);
    assert.deepEqual(await ids(r.duck), [1]);
    assert.equal(await stored(r.duck), '0/200');
    assert.ok(r.server.updates.every((u) => u.flush <= 0x200n));
    assert.ok(r.server.updates.some((u) => u.flush === 0x200n));
  });

  it('rolls back a half-received transaction on the stop signal', async () => {
    const r = await rig();
    const stop = new AbortController();
    let inserts = 0;
    r.sink.onApply = (c) => {
      if (c.kind === 'insert' && ++inserts === 2) stop.abort(); // the first row of transaction 2
    };
    const done = r.run({ kind: 'never' }, stop.signal);
    await sendTx(r.server, transaction(1, 0x100n, 0x200n, [1]));
    await r.server.flushed(0x200n);
    const tx2 = transaction(2, 0x200n, 0x300n, [2, 3]);
    await r.server.xlog(tx2.start, tx2.begin);
    for (const i of tx2.inserts) await r.server.xlog(tx2.start, i);
    assert.equal(await done, 'signal');
    await r.server.close();
    assert.deepEqual(r.violations, []);
    assert.deepEqual(await ids(r.duck), [1]);
    assert.equal(await stored(r.duck), '0/200');
    assert.ok(r.server.updates.every((u) => u.flush <= 0x200n));
  });

  it('asks the server for a keepalive while a due batch is held, and commits it once released', {
    timeout: 10_000,
  }, async () => {
    const r = await rig();
    const stop = new AbortController();
    r.sink.hold = true;
    const done = r.run({ kind: 'never' }, stop.signal);
    await sendTx(r.server, transaction(1, 0x100n, 0x200n, [1]));
    // The held batch waits on the stream passing a position: the loop's tick asks where the WAL is,
    // instead of waiting for the server's own keepalive (half its wal_sender_timeout away).
    await r.server.updateWhere((u) => u.replyRequested);
    assert.ok(r.server.updates.every((u) => u.flush < 0x200n));
    r.sink.hold = false;
    await r.server.keepalive(0x200n);
    await r.server.flushed(0x200n);
    stop.abort();
    assert.equal(await done, 'signal');
    await r.server.close();
    assert.deepEqual(r.violations, []);
    assert.deepEqual(await ids(r.duck), [1]);
  });

  it('advances an idle replica to a keepalive and tells the server at once', async () => {
    const r = await rig();
    const stop = new AbortController();
    const done = r.run({ kind: 'never' }, stop.signal);
    await r.server.keepalive(0x500n);
    await r.server.flushed(0x500n);
    stop.abort();
    assert.equal(await done, 'signal');
    await r.server.close();
    assert.deepEqual(r.violations, []);
    assert.equal(await stored(r.duck), '0/500');
    assert.deepEqual(await ids(r.duck), []);
  });
});
