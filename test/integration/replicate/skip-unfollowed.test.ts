// Changes of a table walduck does not follow are dropped by the decoder unread once the router has
// found the name not ours (DecoderOptions.skip): a name it ignored can become followed mid-stream,
// and from then on its rows must be read and replicated. Here a table outside the table set takes
// writes (ignored, then dropped unread), is emptied and attached as a partition of the followed root;
// once the running walduck routes it to the root, its rows are the root's. DuckDB is compared with
// PostgreSQL row for row, in both formats.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-skip-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

/** Rows with what a value scan could trip on: quotes, backslashes, brackets, multibyte text, a long value. */
const nasty = (from: number, to: number, region: string) =>
  `INSERT INTO %T SELECT g, ${region}, 'q"u\\o[t]e{} é😀 ' || repeat('x', g % 3 * 300) FROM generate_series(${from}, ${to}) g`;

describe('a table whose changes were dropped unread becomes followed', () => {
  for (const format of ['2', '1']) {
    it(`an ignored table attached (empty) as a partition of the followed root: its later rows replicate (format-version ${format})`, {
      timeout: 180_000,
    }, async () => {
      const root = `sp${format}`;
      const late = `sp${format}_late`;
      psql(
        c.info,
        `CREATE TABLE ${root} (id int, region int, note text, PRIMARY KEY (id, region)) PARTITION BY RANGE (region);
         CREATE TABLE ${root}_a PARTITION OF ${root} FOR VALUES FROM (0) TO (100);
         INSERT INTO ${root} SELECT g, g % 100, 'n' || g FROM generate_series(1, 50) g;
         CREATE TABLE ${late} (LIKE ${root} INCLUDING ALL);`,
      );
      const file = `skip${format}.duckdb`;
      const argv = [
        ...args(file, '--tables', root, '--slot', `skip_slot${format}`, '--format-version', format),
      ];
      const run = startWatched(argv, 'walduck:replicate');
      const seen = (text: string) => run.waitFor((log) => log.includes(text));
      await seen('streaming from slot');
      // Not in the table set: looked up once, then ignored; its later changes are dropped unread.
      psql(c.info, nasty(1, 20, '150').replaceAll('%T', late));
      await seen(`changes of public.${late} are not replicated`);
      psql(
        c.info,
        `${nasty(21, 60, '150').replaceAll('%T', late)};
         UPDATE ${late} SET note = note || ' [upd\\]' WHERE id % 3 = 0;
         BEGIN; INSERT INTO ${root} VALUES (51, 5, 'root, with the ignored table'); DELETE FROM ${late} WHERE id % 5 = 0; COMMIT;
         DELETE FROM ${late};
         ALTER TABLE ${root} ATTACH PARTITION ${late} FOR VALUES FROM (100) TO (200);`,
      );
      // The once-a-second look at the root's partitions needs the stream to move: a change a time.
      let routed = false;
      const adopted = seen(`partition public.${late} routed to public.${root}`).then(() => {
        routed = true;
      });
      for (let i = 0; !routed; i++) {
        psql(c.info, `UPDATE ${root} SET note = 'tick ${i}' WHERE id = 1`);
        // psql is synchronous: let walduck's stderr be read before the next one.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await adopted;
      // Now followed: read again, change by change.
      psql(
        c.info,
        `${nasty(100, 140, '150').replaceAll('%T', late)};
         UPDATE ${root} SET note = note || ' after' WHERE region = 150 AND id % 2 = 0;
         DELETE FROM ${late} WHERE id % 7 = 0;
         INSERT INTO ${root} VALUES (999, 199, 'marker');`,
      );
      run.child.kill('SIGINT');
      const first = await run.done;
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stderr,
        /[1-9]\d* row changes of tables not followed were dropped unread this session/,
      );
      const r = await runWalduck([...argv, '--until-caught-up']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /copied online|online copy/);
      await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table: root }]);
      // The rows compared include the attached table's: 41 inserted, 6 deleted, and the marker.
      assert.equal(psql(c.info, `SELECT count(*) FROM ONLY ${late}`).trim(), '36');
    });
  }
});
