// The copy connections' session, as pg_dump sets its own up after importing the snapshot: tables
// locked against TRUNCATE and rewriting ALTER, a rewrite that slipped in before the locks detected,
// row-level security refused instead of silently filtering, and a role's timeouts switched off.
// copySnapshot is driven directly under a snapshot exported by a session the test holds open.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClusterInfo, conninfo, psql } from '../../../src/cluster/throwaway.js';
import { type Connection, connect, parseConnectionString } from '../../../src/protocol/index.js';
import { copySnapshot, type SnapshotTarget } from '../../../src/snapshot/copy.js';
import { readSourceTables } from '../../../src/source/source-tables.js';
import type { TableRef } from '../../../src/wal2json/change.js';
import { useCluster } from '../../helpers/cluster.js';
import { psqlQuery } from '../../helpers/compare.js';

const cluster = useCluster();

/** Counts rows per table; `gate` (if given) holds the first insert until it resolves. */
function countingTarget(gate?: { entered: () => void; release: Promise<void> }) {
  const rows = new Map<string, number>();
  let first = true;
  const target: SnapshotTarget = {
    async insertCopied(ref: TableRef, _columns, count) {
      if (gate && first) {
        first = false;
        gate.entered();
        await gate.release;
      }
      rows.set(ref.table, (rows.get(ref.table) ?? 0) + count);
    },
    loadsCsv: () => false,
    loadCsv: async () => {},
  };
  return { target, rows };
}

/** A session that exported a snapshot and keeps it alive until closed. */
async function exportSnapshot(info: ClusterInfo): Promise<{ name: string; holder: Connection }> {
  const holder = await connect(parseConnectionString(conninfo(info, 'superuser'), {}), {
    replication: false,
  });
  const [, r] = await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT pg_export_snapshot()');
  return { name: String(r?.rows[0]?.[0]), holder };
}

async function copy(info: ClusterInfo, tables: string[], target: SnapshotTarget, snapshotName: string) {
  const sources = await readSourceTables(
    psqlQuery(info),
    tables.map((t) => ({ schema: 'public', table: t })),
  );
  return copySnapshot({
    settings: parseConnectionString(conninfo(info, 'scram-sha-256'), {}),
    snapshotName,
    tables: sources,
    target,
    jobs: 1,
    log: () => {},
  });
}

describe('snapshot copy session', () => {
  it('stops when a TRUNCATE committed after the snapshot, instead of copying an empty table', async () => {
    const info = cluster.info;
    psql(
      info,
      'CREATE TABLE trunc_race (id int PRIMARY KEY); INSERT INTO trunc_race SELECT generate_series(1, 100)',
    );
    const { name, holder } = await exportSnapshot(info);
    try {
      psql(info, 'TRUNCATE trunc_race');
      const { target, rows } = countingTarget();
      await assert.rejects(copy(info, ['trunc_race'], target, name), (e: unknown) => {
        assert.match(String((e as Error).message), /trunc_race was truncated or rewritten/);
        return true;
      });
      assert.equal(rows.get('trunc_race'), undefined);
    } finally {
      await holder.close();
    }
  });

  it('holds ACCESS SHARE locks on every chosen table until the copy ends', async () => {
    const info = cluster.info;
    psql(
      info,
      `CREATE TABLE lock_a (id int PRIMARY KEY); INSERT INTO lock_a SELECT generate_series(1, 10);
       CREATE TABLE lock_b (id int PRIMARY KEY); INSERT INTO lock_b SELECT generate_series(1, 20);`,
    );
    const { name, holder } = await exportSnapshot(info);
    try {
      let entered: () => void = () => {};
      const inFirst = new Promise<void>((r) => {
        entered = r;
      });
      let release: () => void = () => {};
      const gate = {
        entered,
        release: new Promise<void>((r) => {
          release = r;
        }),
      };
      const { target, rows } = countingTarget(gate);
      const running = copy(info, ['lock_a', 'lock_b'], target, name);
      running.catch(() => {});
      await inFirst;
      // lock_a is being copied; lock_b waits its turn. A TRUNCATE now must wait for our lock (and
      // gives up at its lock_timeout) rather than empty lock_b under the copy.
      assert.throws(
        () => psql(info, "SET lock_timeout = '300ms'; TRUNCATE lock_b"),
        /lock timeout/,
        'TRUNCATE went through while the snapshot copy was running',
      );
      release();
      await running;
      assert.deepEqual([rows.get('lock_a'), rows.get('lock_b')], [10, 20]);
    } finally {
      await holder.close();
    }
  });

  it('refuses a table whose row-level security policies apply to the role, instead of a partial copy', async () => {
    const info = cluster.info;
    psql(
      info,
      `CREATE TABLE secret_rows (id int PRIMARY KEY); INSERT INTO secret_rows SELECT generate_series(1, 5);
       ALTER TABLE secret_rows ENABLE ROW LEVEL SECURITY;
       CREATE POLICY only_two ON secret_rows FOR SELECT USING (id <= 2);`,
    );
    const { name, holder } = await exportSnapshot(info);
    try {
      const { target, rows } = countingTarget();
      await assert.rejects(copy(info, ['secret_rows'], target, name), (e: unknown) => {
        assert.match(String((e as Error).message), /secret_rows has row-level security policies/);
        assert.match(String((e as Error).message), /wd_scram/);
        return true;
      });
      assert.equal(rows.get('secret_rows'), undefined);
    } finally {
      await holder.close();
    }
  });

  it("switches off the role's statement, lock and idle-in-transaction timeouts on copy connections", async () => {
    const info = cluster.info;
    // A COPY of this table takes far longer than 5 ms anywhere.
    psql(
      info,
      `CREATE TABLE slow_copy (id int PRIMARY KEY, pad text);
       INSERT INTO slow_copy SELECT g, repeat('x', 100) FROM generate_series(1, 300000) g`,
    );
    psql(
      info,
      `ALTER ROLE wd_scram SET statement_timeout = '5ms'; ALTER ROLE wd_scram SET lock_timeout = '5ms';
       ALTER ROLE wd_scram SET idle_in_transaction_session_timeout = '5ms'`,
    );
    const { name, holder } = await exportSnapshot(info);
    try {
      const { target, rows } = countingTarget();
      await copy(info, ['slow_copy'], target, name);
      assert.equal(rows.get('slow_copy'), 300_000);
    } finally {
      psql(info, 'ALTER ROLE wd_scram RESET ALL');
      await holder.close();
    }
  });
});
