// Replication against the real server: slots, START_REPLICATION with real XLogData, feedback that
// moves confirmed_flush_lsn exactly to what the caller acknowledged, keepalive replies while the
// consumer sleeps, backpressure, a clean stop, and the errors people meet (slot active, no plugin).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import {
  type Connection,
  ConnectionError,
  connect,
  formatLsn,
  type Lsn,
  PgServerError,
  parseConnectionString,
  parseLsn,
  type ReplicationStream,
  type StreamMessage,
  type TraceEvent,
  type XLogData,
} from '../../../src/protocol/index.js';
import { useCluster } from '../../helpers/cluster.js';

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads messages until `count` XLogData arrived. */
async function take(stream: ReplicationStream, count: number): Promise<XLogData[]> {
  const out: XLogData[] = [];
  const it = stream[Symbol.asyncIterator]();
  while (out.length < count) {
    const r = await it.next();
    if (r.done) break;
    if (r.value.type === 'XLogData') out.push(r.value);
  }
  return out;
}

const actions = (ms: readonly XLogData[]) =>
  ms.map((m) => (JSON.parse(m.data.toString('utf8')) as { action: string }).action);

describe('replication', () => {
  const c = useCluster();
  const open = (extra: Record<string, string> = {}): Promise<Connection> =>
    connect(parseConnectionString(conninfo(c.info, 'scram-sha-256', extra), {}));
  const confirmedFlush = (slot: string): Lsn | undefined =>
    parseLsn(
      psql(c.info, `SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`),
    );

  it('creates, reads and drops slots; a temporary slot goes with its connection', async () => {
    const conn = await open();
    try {
      const created = await conn.createReplicationSlot('rs_perm', { plugin: 'wal2json', snapshot: 'export' });
      assert.equal(created.slotName, 'rs_perm');
      assert.equal(created.outputPlugin, 'wal2json');
      assert.match(created.snapshotName ?? '', /^[0-9A-F]+-[0-9A-F]+-\d+$/);
      assert.equal(
        formatLsn(created.consistentPoint),
        psql(c.info, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'rs_perm'"),
      );
      // READ_REPLICATION_SLOT serves physical slots only (PostgreSQL 15).
      psql(c.info, "SELECT pg_create_physical_replication_slot('rs_phys', true)");
      const read = await conn.readReplicationSlot('rs_phys');
      assert.equal(read.slotType, 'physical');
      assert.equal(read.restartTli, 1);
      assert.equal(
        read.restartLsn === null ? null : formatLsn(read.restartLsn),
        psql(c.info, "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'rs_phys'"),
      );
      await conn.dropReplicationSlot('rs_phys');
      assert.deepEqual(await conn.readReplicationSlot('rs_none'), {
        slotType: null,
        restartLsn: null,
        restartTli: null,
      });
      const temp = await conn.createReplicationSlot('rs_temp', {
        plugin: 'wal2json',
        temporary: true,
        snapshot: 'noexport',
      });
      assert.equal(temp.snapshotName, null);
      assert.equal(
        psql(c.info, "SELECT temporary FROM pg_replication_slots WHERE slot_name = 'rs_temp'"),
        't',
      );
      await conn.dropReplicationSlot('rs_perm', { wait: true });
      assert.equal(
        psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'rs_perm'"),
        '0',
      );
      const err = await conn.dropReplicationSlot('rs_perm').then(
        () => assert.fail('dropped a missing slot'),
        (e: unknown) => e,
      );
      assert.ok(
        err instanceof PgServerError &&
          err.code === '42704' &&
          /no such slot, so nothing to drop/.test(err.message),
      );
    } finally {
      await conn.close();
    }
    await until(
      'the temporary slot to go',
      () => psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'rs_temp'") === '0',
    );
  });

  it('says to install the plugin when it is missing', async () => {
    const conn = await open();
    try {
      const err = await conn.createReplicationSlot('rs_noplugin', { plugin: 'no_such_plugin' }).then(
        () => assert.fail('created a slot with a missing plugin'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PgServerError, String(err));
      assert.match(err.message, new RegExp(`apt-get install postgresql-${c.info.majorVersion}-wal2json`));
      // The connection is still usable after a server error.
      assert.equal((await conn.identifySystem()).dbName, c.info.database);
    } finally {
      await conn.close();
    }
  });

  it('requestKeepalive() sends a status update with replyRequested; the server answers with a keepalive', async () => {
    const sent: Record<string, unknown>[] = [];
    const conn = await connect(parseConnectionString(conninfo(c.info, 'scram-sha-256'), {}), {
      trace: (e) => {
        if (e.direction === 'send' && e.name === 'StandbyStatusUpdate') sent.push({ ...e.fields });
      },
    });
    try {
      await conn.createReplicationSlot('rs_ping', { plugin: 'wal2json', temporary: true });
      const stream = await conn.startReplication({
        slot: 'rs_ping',
        startLsn: 0n,
        feedbackIntervalMs: 3_600_000,
      });
      stream.requestKeepalive();
      assert.equal(sent.length, 1);
      assert.equal(sent[0]?.replyRequested, true);
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      assert.equal(first.done, false);
      assert.equal(first.value?.type, 'PrimaryKeepalive');
      await stream.stop();
    } finally {
      await conn.close();
    }
  });

  it('streams real XLogData; flush moves only to the acknowledged LSN; a restart resumes after it', async () => {
    psql(c.info, 'CREATE TABLE rt(id int primary key, v text)');
    const conn = await open();
    try {
      const slot = await conn.createReplicationSlot('rs_ack', { plugin: 'wal2json' });
      psql(c.info, "INSERT INTO rt VALUES (1, 'one')");
      psql(c.info, "INSERT INTO rt VALUES (2, 'two')");
      // Bad options are refused before START_REPLICATION goes out: the connection stays usable.
      await assert.rejects(
        conn.startReplication({ slot: 'rs_ack', startLsn: 0n, feedbackIntervalMs: 0 }),
        /feedbackIntervalMs/,
      );
      const stream = await conn.startReplication({
        slot: 'rs_ack',
        startLsn: 0n,
        options: [['format-version', '2']],
        feedbackIntervalMs: 3_600_000,
      });
      const got = await take(stream, 6);
      assert.deepEqual(actions(got), ['B', 'I', 'C', 'B', 'I', 'C']);
      assert.equal(stream.lastReceived >= (got[5] as XLogData).dataStart, true);
      const firstCommit = (got[2] as XLogData).dataStart;
      assert.ok(firstCommit > slot.consistentPoint);
      assert.equal(confirmedFlush('rs_ack'), slot.consistentPoint);
      stream.acknowledge(firstCommit);
      stream.acknowledge(slot.consistentPoint); // never backwards
      stream.sendFeedback();
      await until(
        'confirmed_flush_lsn to reach the acknowledged LSN',
        () => confirmedFlush('rs_ack') === firstCommit,
      );
      assert.throws(() => stream.acknowledge(-1n), /takes an LSN/);
      await stream.stop();
      assert.equal(confirmedFlush('rs_ack'), firstCommit, 'stop() reported no more than acknowledged');

      // One stream per connection (the server's rule): a second one is refused with a clear error.
      await assert.rejects(
        conn.startReplication({ slot: 'rs_ack', startLsn: 0n }),
        (e: unknown) => e instanceof ConnectionError && e.code === 'WALDUCK_RESTREAM_UNSUPPORTED',
      );
      // Resuming from 0/0 starts at confirmed_flush_lsn: the first transaction is not sent again.
      const conn2 = await open();
      const again = await conn2.startReplication({
        slot: 'rs_ack',
        startLsn: 0n,
        options: [['format-version', '2']],
      });
      const rest = await take(again, 3);
      assert.deepEqual(
        rest.map(
          (m) => (JSON.parse(m.data.toString()) as { columns?: { value: unknown }[] }).columns?.[0]?.value,
        ),
        [undefined, 2, undefined],
      );
      await again.stop();
      await conn2.close();
      await conn.dropReplicationSlot('rs_ack');
    } finally {
      await conn.close();
    }
  });

  it('answers a keepalive that requests a reply at once, even while the consumer is not reading', async () => {
    // wal_sender_timeout is settable per session: 1 s makes the server ask for replies every 0.5 s and
    // drop us after 1 s of silence. Interval feedback is off (1 h), so only the replies keep us alive.
    const events: TraceEvent[] = [];
    const conn = await connect(
      parseConnectionString(conninfo(c.info, 'scram-sha-256', { options: '-c wal_sender_timeout=1000' }), {}),
      { trace: (e) => events.push(e) },
    );
    try {
      await conn.createReplicationSlot('rs_ka', { plugin: 'wal2json', temporary: true });
      const stream = await conn.startReplication({
        slot: 'rs_ka',
        startLsn: 0n,
        feedbackIntervalMs: 3_600_000,
      });
      const answered = (): number =>
        events.filter(
          (e, i) =>
            e.name === 'PrimaryKeepalive' &&
            e.fields.replyRequested === true &&
            events[i + 1]?.name === 'StandbyStatusUpdate',
        ).length;
      // Three answered requests span more than wal_sender_timeout: unanswered, the server would have hung up.
      await until('three answered keepalive requests', () => answered() >= 3);
      await stream.stop();
      assert.equal((await conn.identifySystem()).dbName, c.info.database);
    } finally {
      await conn.close();
    }
  });

  it('bounds buffered bytes by maxBufferedBytes while the consumer is slow', async () => {
    psql(c.info, 'CREATE TABLE bp(id int primary key, v text)');
    const conn = await open();
    try {
      await conn.createReplicationSlot('rs_bp', { plugin: 'wal2json', temporary: true });
      psql(c.info, "INSERT INTO bp SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
      const budget = 64 * 1024;
      const stream = await conn.startReplication({
        slot: 'rs_bp',
        startLsn: 0n,
        options: [['format-version', '2']],
        maxBufferedBytes: budget,
      });
      let inserts = 0;
      let maxBuffered = 0;
      let stalled = false;
      for await (const m of stream) {
        if (!stalled) {
          // A consumer that stalls: the queue fills past the budget and the socket pauses there.
          await until('the queue to pass the budget', () => stream.bufferedBytes > budget);
          stalled = true;
        }
        maxBuffered = Math.max(maxBuffered, stream.bufferedBytes);
        if (m.type === 'XLogData' && m.data[11] === 0x49 /* {"action":"I" */) inserts++;
        if (inserts === 20000) break;
      }
      assert.equal(inserts, 20000);
      // Paused above the budget: only the rest of the chunk being decoded (<= 64 KiB) lands beyond it.
      assert.ok(maxBuffered > budget, `${maxBuffered}`);
      assert.ok(maxBuffered < budget + 128 * 1024, `buffered ${maxBuffered} bytes for a budget of ${budget}`);
    } finally {
      await conn.close();
    }
  });

  it('names the PID that holds an active slot (55006)', async () => {
    const a = await open();
    const b = await open();
    try {
      await a.createReplicationSlot('rs_busy', { plugin: 'wal2json', temporary: true });
      const stream = await a.startReplication({ slot: 'rs_busy', startLsn: 0n });
      const err = await b.startReplication({ slot: 'rs_busy', startLsn: 0n }).then(
        () => assert.fail('two consumers on one slot'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PgServerError, String(err));
      assert.equal(err.code, '55006');
      assert.match(
        err.message,
        new RegExp(`PID ${a.backendPid}.*pg_terminate_backend\\(${a.backendPid}\\)`, 's'),
      );
      await stream.stop();
      assert.equal((await b.identifySystem()).dbName, c.info.database);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('ends the iterator with a typed error when the server terminates the backend', async () => {
    const conn = await open();
    await conn.createReplicationSlot('rs_kill', { plugin: 'wal2json', temporary: true });
    const stream = await conn.startReplication({ slot: 'rs_kill', startLsn: 0n });
    const consumed = (async () => {
      const seen: StreamMessage[] = [];
      for await (const m of stream) seen.push(m);
      return seen;
    })();
    psql(c.info, `SELECT pg_terminate_backend(${conn.backendPid})`);
    await assert.rejects(consumed, (e: unknown) => {
      assert.ok(e instanceof PgServerError || (e instanceof Error && 'code' in e), String(e));
      assert.equal((e as { phase: string }).phase, 'stream');
      return true;
    });
    await conn.close();
  });
});
