// A server with wal_level=replica refuses logical slots; the error must say how to fix it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conninfo } from '../../../src/cluster/throwaway.js';
import { connect, PgServerError, parseConnectionString } from '../../../src/protocol/index.js';
import { useCluster } from '../../helpers/cluster.js';

describe('wal_level not logical', () => {
  const c = useCluster({ settings: { wal_level: 'replica' } });

  it('explains how to set wal_level when creating a logical slot fails', async () => {
    const conn = await connect(parseConnectionString(conninfo(c.info, 'scram-sha-256'), {}));
    try {
      const err = await conn.createReplicationSlot('wl', { plugin: 'wal2json' }).then(
        () => assert.fail('created a logical slot with wal_level=replica'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PgServerError, String(err));
      assert.equal(err.sqlstate, '55000');
      assert.equal(err.phase, 'command');
      assert.match(err.message, /wal_level = logical.*restart/);
    } finally {
      await conn.close();
    }
  });
});
