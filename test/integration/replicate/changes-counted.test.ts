// What walduck says it applied counts the row changes of the tables it follows, and only those: a
// table outside --tables written in the same transactions is read (at first) or dropped unread (once
// the router knows it), and neither is a change applied. The Prometheus counter
// (walduck_changes_applied_total, scraped while walduck runs) and the closing summary line
// ("N changes in M transactions applied") must both say the followed table's count, in both formats.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { replicateArgs, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-counted-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

/** "0/1A2B3C" as a number. */
const lsnOf = (text: string): bigint => {
  const [hi, lo] = text.trim().split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

describe('changes applied count only the followed tables', () => {
  for (const format of ['2', '1']) {
    it(`a table not followed, written in the same transactions, is not counted (format-version ${format})`, {
      timeout: 120_000,
    }, async () => {
      const kept = `kept${format}`;
      const other = `other${format}`;
      psql(
        c.info,
        `CREATE TABLE ${kept} (id int PRIMARY KEY, note text);
         CREATE TABLE ${other} (id int PRIMARY KEY, note text);`,
      );
      const argv = args(
        `counted${format}.duckdb`,
        '--tables',
        kept,
        '--slot',
        `counted_slot${format}`,
        '--format-version',
        format,
        '--metrics',
        '127.0.0.1:0',
      );
      const run = startWatched(argv, 'walduck:replicate,walduck:sink');
      try {
        await run.waitFor(/streaming from slot/);
        const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(run.text())?.[1];
        assert.ok(port, 'walduck said where its metrics are');
        // 5 changes of the followed table, 33 of the other, in four transactions.
        psql(
          c.info,
          `BEGIN; INSERT INTO ${kept} SELECT g, 'k' || g FROM generate_series(1, 3) g;
                  INSERT INTO ${other} SELECT g, 'o' || g FROM generate_series(1, 10) g; COMMIT;
           BEGIN; UPDATE ${other} SET note = note || '+';
                  UPDATE ${kept} SET note = 'changed' WHERE id = 2;
                  DELETE FROM ${other} WHERE id <= 4; COMMIT;
           INSERT INTO ${other} SELECT g, 'o' || g FROM generate_series(11, 17) g;
           BEGIN; DELETE FROM ${kept} WHERE id = 3;
                  INSERT INTO ${other} VALUES (18, 'o18'), (19, 'o19'); COMMIT;`,
        );
        const end = lsnOf(psql(c.info, 'SELECT pg_current_wal_lsn()'));
        // The counter moves when the sink commits (before the server is told): wait for a commit that
        // covers everything written.
        await run.waitFor((log) =>
          [...log.matchAll(/committed \d+ change\(s\) up to ([0-9A-F]+\/[0-9A-F]+)/g)].some(
            (m) => lsnOf(m[1] ?? '0/0') >= end,
          ),
        );
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        assert.match(text, /^walduck_changes_applied_total 5$/m);
      } finally {
        run.child.kill('SIGINT');
      }
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /walduck: 5 changes in \d+ transactions applied to /);
    });
  }
});
