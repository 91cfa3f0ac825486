// A sink slower than the stream pauses the socket (bounded memory). The server must not time walduck
// out meanwhile: with wal_sender_timeout = 2 s and a sink that takes longer than that to get through
// what is queued, status updates still leave on the interval derived from the server's timeout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { connect, parseConnectionString } from '../../../src/protocol/index.js';
import { Latency } from '../../../src/replicator/latency.js';
import { newFigures, runLoop, systemClock } from '../../../src/replicator/loop.js';
import { liveness } from '../../../src/replicator/replicate.js';
import { DuckDbSink } from '../../../src/sink/duckdb-sink.js';
import type { ChangeSink } from '../../../src/sink/sink.js';
import { readSourceTables } from '../../../src/source/source-tables.js';
import { createDecoder, wal2jsonOptions } from '../../../src/wal2json/index.js';
import { useCluster } from '../../helpers/cluster.js';
import { psqlQuery } from '../../helpers/compare.js';

const c = useCluster({ settings: { wal_sender_timeout: "'2s'" } });

it('keeps the walsender alive while a slow sink holds the socket paused', async () => {
  psql(c.info, 'CREATE TABLE slow (id int PRIMARY KEY, pad text)');
  psql(c.info, "SELECT pg_create_logical_replication_slot('slow', 'wal2json')");
  for (let i = 0; i < 4; i++) {
    psql(
      c.info,
      `INSERT INTO slow SELECT g, repeat('p', 300) FROM generate_series(${i * 5000}, ${i * 5000 + 4999}) g`,
    );
  }
  const tables = await readSourceTables(psqlQuery(c.info), [{ schema: 'public', table: 'slow' }]);
  const db = await DuckDBInstance.create(':memory:');
  const duck = await db.connect();
  const inner = await DuckDbSink.open(duck, tables, {
    slot: 'slow',
    batchChanges: 100,
    batchMs: 1,
    log: () => {},
    warn: () => {},
  });
  let slowCommits = 0;
  // Every commit takes 1.5 s: the queue stays full and the socket paused for far longer than 2 s.
  const sink: ChangeSink = {
    get storedLsn() {
      return inner.storedLsn;
    },
    get inSourceTransaction() {
      return inner.inSourceTransaction;
    },
    get hasUncommitted() {
      return inner.hasUncommitted;
    },
    get due() {
      return inner.due;
    },
    apply: (ch) => inner.apply(ch),
    commit: async () => {
      await sleep(1500);
      slowCommits++;
      return inner.commit();
    },
    rollback: () => inner.rollback(),
    advanceIdle: (lsn) => inner.advanceIdle(lsn),
  };
  const conn = await connect(parseConnectionString(conninfo(c.info), {}));
  const live = liveness(2000, undefined);
  const stream = await conn.startReplication({
    slot: 'slow',
    startLsn: 0n,
    options: wal2jsonOptions({ formatVersion: 2, tables }),
    feedbackIntervalMs: live.feedbackIntervalMs,
    receiveTimeoutMs: live.receiveTimeoutMs,
    maxBufferedBytes: 64 * 1024,
  });
  const stop = new AbortController();
  const done = runLoop({
    stream,
    decoder: createDecoder({ formatVersion: 2 }),
    sink,
    clock: systemClock,
    stopAt: { kind: 'never' },
    batchMs: 1,
    figures: newFigures(0n),
    latency: new Latency(),
    signal: stop.signal,
  });
  let settled = false;
  done.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  // Three server timeouts' worth of slow commits, then a clean stop (or the loop's own end, asserted below).
  while (slowCommits < 5 && !settled) await sleep(100);
  stop.abort();
  assert.equal(await done, 'signal');
  await conn.close();
  db.closeSync();
  const serverLog = readFileSync(join(c.info.dir, 'server.log'), 'utf8');
  assert.doesNotMatch(serverLog, /replication timeout/);
});
