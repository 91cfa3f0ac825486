// What verify holds at the source, and for how long: a table's lock only while that table is read
// (an ALTER TABLE on a table already verified goes through while the next one is still being read),
// and the snapshot (xmin) and temporary slot only while the source is read, not while the replica
// catches up and is hashed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { connect, parseConnectionString } from '../../../src/protocol/index.js';
import { verify } from '../../../src/verify/verify.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('verify holds no more than its scans', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-verify-fp-');
  const src = () => conninfo(c.info, 'scram-sha-256');
  const file = () => join(dir, 'fp.duckdb');
  // verify in-process: its events let a test act at a given moment of the run.
  const options = () => ({
    source: src(),
    duckdb: file(),
    rows: false,
    maxDiffs: 20,
    log: () => {},
    warn: () => {},
  });

  before(async () => {
    psql(
      c.info,
      `CREATE TABLE a (id int PRIMARY KEY, v text);
       CREATE TABLE b (id int PRIMARY KEY, v text);
       INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 1000) g;
       INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 1000) g;`,
    );
    const r = await runWalduck([
      'replicate',
      '--source',
      src(),
      '--duckdb',
      file(),
      '--tables',
      'a,b',
      '--slot',
      'fp_slot',
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
  });

  // The timeouts only turn a hang (a wait that never comes) into a failure; nothing is timed.
  it('releases a table it has verified while it still reads the next one', { timeout: 300_000 }, async () => {
    // Once a is hashed, another session takes b ACCESS EXCLUSIVE, so verify, reading a then b, waits
    // on b. (Taken earlier, its transaction would hold up the temporary slot's creation instead.)
    const holder = await connect(parseConnectionString(conninfo(c.info, 'superuser'), {}), {
      replication: false,
    });
    try {
      let settled = false;
      const run = verify({
        ...options(),
        tables: [
          { schema: 'public', table: 'a' },
          { schema: 'public', table: 'b' },
        ],
        events: {
          sourceTable: async (t) => {
            if (t.table === 'a') await holder.query('BEGIN; LOCK TABLE b IN ACCESS EXCLUSIVE MODE');
          },
        },
      }).finally(() => {
        settled = true;
      });
      // The event: verify's hash query of b queued behind the holder's lock.
      const waiting = `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s USING (pid)
        WHERE l.relation = 'public.b'::regclass AND NOT l.granted AND s.query LIKE '%wd_row%'`;
      while (!settled && psql(c.info, waiting) === '0') await new Promise((r) => setTimeout(r, 50));
      assert.equal(settled, false, 'verify ended before it waited on b');
      // ACCESS EXCLUSIVE on a, verified already: granted at once (the timeout only turns a wait into a
      // failure; with all tables read in one transaction, a stayed locked until the end).
      const alter = psql(
        c.info,
        `BEGIN; SET LOCAL lock_timeout = '20s'; ALTER TABLE a ADD COLUMN extra int; ROLLBACK; SELECT 'altered'`,
      );
      assert.equal(alter, 'altered');
      await holder.query('COMMIT');
      const rep = await run;
      assert.equal(rep.equal, true);
      assert.deepEqual(
        rep.tables.map((t) => [t.table, t.source.rows]),
        [
          ['a', '1000'],
          ['b', '1000'],
        ],
      );
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.close().catch(() => {});
    }
  });

  it('holds neither snapshot nor temporary slot once the source is read, while the replica side still works', {
    timeout: 300_000,
  }, async () => {
    // Changes the replica has to catch up on.
    psql(c.info, `UPDATE a SET v = v || '!' WHERE id % 3 = 0; DELETE FROM b WHERE id > 900`);
    const seen: { slots: string; xmins: string; sourceDone: boolean }[] = [];
    let sourceDone = () => {};
    const sourceRead = new Promise<void>((r) => {
      sourceDone = r;
    });
    const rep = await verify({
      ...options(),
      events: {
        sourceDone: () => sourceDone(),
        // Holds the replica side here (caught up, not yet hashed) until the source side is done,
        // then looks at the server.
        replicaReady: async () => {
          await sourceRead;
          seen.push({
            slots: psql(
              c.info,
              "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'walduck_verify%'",
            ),
            // Any client session but psql's own holding an xmin: the anchor or a reading session.
            xmins: psql(
              c.info,
              "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid()",
            ),
            sourceDone: true,
          });
        },
      },
    });
    assert.deepEqual(seen, [{ slots: '0', xmins: '0', sourceDone: true }]);
    assert.equal(rep.equal, true);
    assert.ok(rep.catchUp.transactions > 0, 'nothing to catch up: the replica side did nothing');
    assert.deepEqual(
      rep.tables.map((t) => [t.table, t.source.rows]),
      [
        ['a', '1000'],
        ['b', '900'],
      ],
    );
    // The replica's own slot is where verify left the replica, not held back behind it.
    assert.equal(
      psql(c.info, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'fp_slot'"),
      rep.replicaLsn,
    );
  });
});
