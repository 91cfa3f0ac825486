// Connection.copyOut against the real server: rows arrive whole and in order, a server error during
// the copy is a PgServerError that leaves the connection usable, and a statement that is not a copy
// is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conninfo } from '../../../src/cluster/throwaway.js';
import { connect, PgServerError, parseConnectionString } from '../../../src/protocol/index.js';
import { CopyTextParser } from '../../../src/snapshot/copy-text.js';
import { useCluster } from '../../helpers/cluster.js';

describe('copyOut', () => {
  const c = useCluster();
  const open = () =>
    connect(parseConnectionString(conninfo(c.info, 'scram-sha-256'), {}), { replication: false });

  it('streams every row of a COPY in order', async () => {
    const conn = await open();
    try {
      const p = new CopyTextParser(2);
      let messages = 0;
      for await (const batch of conn.copyOut(
        "COPY (SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE E'a\\tb' || g END FROM generate_series(1, 50000) g) TO STDOUT",
      )) {
        for (const data of batch) p.push(data);
        messages += batch.length;
      }
      p.end();
      assert.equal(p.count, 50_000);
      assert.equal(messages, 50_000);
      assert.deepEqual([p.columns[0]?.[0], p.columns[1]?.[0]], ['1', 'a\tb1']);
      assert.deepEqual([p.columns[0]?.[2], p.columns[1]?.[2]], ['3', null]);
      assert.equal(p.columns[0]?.[49_999], '50000');
      // The connection is idle again.
      assert.deepEqual((await conn.query('SELECT 1'))[0]?.rows, [['1']]);
    } finally {
      await conn.close();
    }
  });

  it('reports a server error mid-copy and stays usable', async () => {
    const conn = await open();
    try {
      let rows = 0;
      await assert.rejects(async () => {
        for await (const batch of conn.copyOut(
          'COPY (SELECT 10 / (5000 - g) FROM generate_series(1, 10000) g) TO STDOUT',
        ))
          rows += batch.length;
      }, PgServerError);
      assert.ok(rows > 0, 'rows before the error arrived');
      assert.deepEqual((await conn.query('SELECT 2'))[0]?.rows, [['2']]);
    } finally {
      await conn.close();
    }
  });

  it('refuses a statement that starts no copy', async () => {
    const conn = await open();
    try {
      await assert.rejects(async () => {
        for await (const _ of conn.copyOut('SELECT 1')) {
          // nothing arrives
        }
      }, /did not start a copy/);
    } finally {
      await conn.close();
    }
  });
});
