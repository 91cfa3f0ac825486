// The oracle: for the same slot range (two slots created at the same point, the same --endpos), the
// payloads our stream delivers, each followed by "\n", are byte-identical to what
// `pg_recvlogical -f -` writes. Both sessions get the same output-affecting settings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import {
  connect,
  formatLsn,
  type Lsn,
  parseConnectionString,
  parseLsn,
} from '../../../src/protocol/index.js';
import { useCluster } from '../../helpers/cluster.js';

describe('oracle: pg_recvlogical', () => {
  const c = useCluster();

  function recvlogical(slot: string, endpos: Lsn, options: readonly string[]): Buffer {
    const r = spawnSync(
      'pg_recvlogical',
      [
        '-d',
        `host=${c.info.socketDir} port=${c.info.port} user=postgres dbname=${c.info.database}`,
        '--slot',
        slot,
        '--start',
        '--no-loop',
        '-E',
        formatLsn(endpos),
        '-f',
        '-',
        ...options.flatMap((o) => ['-o', o]),
      ],
      {
        // Our connection sets these in its StartupMessage; give pg_recvlogical's session the same.
        env: {
          ...process.env,
          PGTZ: 'UTC',
          PGDATESTYLE: 'ISO, YMD',
          PGOPTIONS: '-c extra_float_digits=3 -c bytea_output=hex -c IntervalStyle=postgres',
        },
        maxBuffer: 256 * 1024 * 1024,
        timeout: 60_000,
      },
    );
    assert.equal(r.status, 0, r.stderr?.toString());
    return r.stdout;
  }

  /** Our stream with pg_recvlogical's --endpos rule: stop after dataStart == endpos, before one past it. */
  async function ours(slot: string, endpos: Lsn, options: readonly string[]): Promise<Buffer> {
    const conn = await connect(parseConnectionString(conninfo(c.info, 'scram-sha-256'), {}));
    const parts: Buffer[] = [];
    try {
      const stream = await conn.startReplication({
        slot,
        startLsn: 0n,
        options: options.map((o) => {
          const eq = o.indexOf('=');
          return [o.slice(0, eq), o.slice(eq + 1)] as const;
        }),
      });
      for await (const m of stream) {
        if (m.type === 'PrimaryKeepalive') {
          if (m.walEnd >= endpos) break;
          continue;
        }
        if (m.dataStart > endpos) break;
        parts.push(m.data, Buffer.from('\n'));
        if (m.dataStart === endpos) break;
      }
    } finally {
      await conn.close();
    }
    return Buffer.concat(parts);
  }

  for (const [label, options] of [
    ['format-version 2', ['format-version=2', 'include-xids=1', 'include-timestamp=1']],
    ['format-version 1 (one message per transaction)', ['format-version=1', 'include-xids=1']],
  ] as const) {
    it(`delivers byte-identical payloads (${label})`, async () => {
      const tag = label.startsWith('format-version 2') ? 'v2' : 'v1';
      const [mine, theirs] = [`oracle_${tag}_ours`, `oracle_${tag}_theirs`];
      psql(
        c.info,
        `SELECT pg_create_logical_replication_slot('${mine}', 'wal2json'), pg_create_logical_replication_slot('${theirs}', 'wal2json')`,
      );
      psql(
        c.info,
        `CREATE TABLE IF NOT EXISTS o_${tag}(id bigint primary key, n numeric, f float8, t timestamptz, i interval, b bytea, j jsonb, s text);
         INSERT INTO o_${tag} SELECT g, g * 12345678901234.5678, g / 3.0, '2021-03-04 05:06:07.123456+02'::timestamptz + g * interval '1 day',
           g * interval '1 hour 2 min', decode(md5(g::text), 'hex'), jsonb_build_object('k', g, 'q', 'a"b'), 'row ' || g || E' é😀\\n\\t"x"'
           FROM generate_series(1, 500) g;
         INSERT INTO o_${tag} (id, s) VALUES (100000, repeat('big ', 500000));
         UPDATE o_${tag} SET s = NULL, f = 'NaN' WHERE id % 7 = 0;
         DELETE FROM o_${tag} WHERE id % 11 = 0;`,
      );
      psql(c.info, "SELECT pg_logical_emit_message(true, 'walduck', 'hello')");
      const endpos = parseLsn(psql(c.info, 'SELECT pg_current_wal_lsn()')) as Lsn;
      // More changes after endpos. The first one begins exactly at endpos (format 1 labels a whole
      // transaction with its first LSN, so it is "at endpos" and both sides include it); the second
      // begins after it, and neither side may deliver it.
      psql(c.info, `INSERT INTO o_${tag} (id, s) VALUES (999998, 'AT-ENDPOS')`);
      psql(c.info, `INSERT INTO o_${tag} (id, s) VALUES (999999, 'AFTER-ENDPOS')`);

      const expected = recvlogical(theirs, endpos, options);
      const got = await ours(mine, endpos, options);
      assert.ok(expected.length > 2_000_000, `pg_recvlogical wrote ${expected.length} bytes`);
      assert.ok(!expected.includes('AFTER-ENDPOS'), 'endpos excluded the later change');
      assert.ok(expected.includes('hello'), 'the logical message is in the range');
      assert.equal(got.length, expected.length);
      assert.ok(got.equals(expected), 'payloads differ from pg_recvlogical');
      psql(c.info, `SELECT pg_drop_replication_slot('${mine}'), pg_drop_replication_slot('${theirs}')`);
    });
  }
});
