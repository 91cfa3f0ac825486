// REPLICA IDENTITY NOTHING set on a followed table while walduck runs (or its primary key dropped
// under REPLICA IDENTITY DEFAULT): PostgreSQL then logs no identity for UPDATE and DELETE, and
// wal2json drops those changes, saying so only in a server WARNING. Before, walduck printed the
// warning and went on: the updates and deletes were lost, the transaction committed and acknowledged,
// exit 0 at the next signal. Now walduck stops before committing that transaction, in one line naming
// the table and the way out (an identity, then walduck resync: the WAL itself lacks the rows'
// identity, so replaying it can never bring them); a table it does not follow is only warned about.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { replicateArgs, runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-identity-nothing-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);

for (const version of ['2', '1']) {
  describe(`format-version ${version}: an UPDATE or DELETE wal2json drops for want of an identity`, () => {
    const t = `rn${version}`;
    const other = `other${version}`;
    const file = `${t}.duckdb`;
    const argv = (...extra: string[]) =>
      args(file, '--slot', `s_${t}`, '--tables', t, '--format-version', version, ...extra);
    const lines = (stderr: string) =>
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.includes('does not report TRUNCATE') && !l.includes('server WARNING'));

    it('of a followed table stops before its transaction commits; of another table does not', {
      timeout: 120_000,
    }, async () => {
      psql(
        c.info,
        `CREATE TABLE ${t} (id int PRIMARY KEY, v int); INSERT INTO ${t} SELECT g, g FROM generate_series(1, 5) g;
         CREATE TABLE ${other} (id int, v int); ALTER TABLE ${other} REPLICA IDENTITY NOTHING;
         INSERT INTO ${other} VALUES (1, 1)`,
      );
      const run = startWatched(argv(), 'walduck:replicate');
      await run.waitFor(/streaming from slot/);
      // A table walduck does not follow: its dropped UPDATE is not walduck's business.
      psql(c.info, `UPDATE ${other} SET v = 2`);
      await run.waitFor(/server WARNING: .*other/);
      psql(
        c.info,
        `INSERT INTO ${t} VALUES (6, 6);
         BEGIN; ALTER TABLE ${t} REPLICA IDENTITY NOTHING; INSERT INTO ${t} VALUES (7, 7); COMMIT;
         BEGIN; INSERT INTO ${t} VALUES (8, 8); UPDATE ${t} SET v = 0 WHERE id = 3; DELETE FROM ${t} WHERE id = 2; COMMIT`,
      );
      await run.waitFor(/server WARNING: .*rn/);
      // Whether the stop or the signal comes first, nothing after the lost change may commit.
      run.child.kill('SIGINT');
      const r = await run.done;
      assert.equal(r.code, 1, r.stderr);
      const last =
        lines(r.stderr)
          .filter((l) => !l.includes('SIGINT'))
          .at(-1) ?? '';
      assert.match(
        last,
        new RegExp(`public\\.${t}: .*without .*identity.*walduck resync --table public\\.${t}`),
      );
      assert.doesNotMatch(r.stderr, new RegExp(`walduck: .*public\\.${other}: `));
      // The transaction with the lost changes is not in DuckDB (row 8 came with it).
      assert.deepEqual(await duckQuery(join(dir, file), `SELECT count(*)::INT FROM ${t} WHERE id = 8`), [
        [0],
      ]);

      // Its identity restored, a restart meets the same WAL again (it lacks the identity): same stop.
      psql(c.info, `ALTER TABLE ${t} REPLICA IDENTITY DEFAULT`);
      const again = await runWalduck(argv('--until-caught-up'));
      assert.equal(again.code, 1, again.stderr);
      assert.equal(lines(again.stderr).length, 1, again.stderr);
      assert.match(lines(again.stderr)[0] ?? '', /walduck resync --table/);

      // The way out the line names: resync copies the table again, online.
      const resync = await runWalduck(['resync', '--duckdb', join(dir, file), '--table', `public.${t}`]);
      assert.equal(resync.code, 0, resync.stderr);
      const healed = await runWalduck(argv('--until-caught-up'));
      assert.equal(healed.code, 0, healed.stderr);
      await assertReplicaEquals(c.info, join(dir, file), [{ schema: 'public', table: t }]);
    });

    // wal2json warns for every UPDATE and DELETE it drops, of every table (walduck passes no
    // add-tables). Before, each became a line on stderr: a keyless table walduck does not follow,
    // updated 20 times a second, wrote 20 lines a second for as long as walduck ran, again at every
    // replay after a reconnect.
    it('of a table walduck does not follow is said once per run, not once per change', {
      timeout: 120_000,
    }, async () => {
      const kept = `kept${version}`;
      const keyless = `keyless${version}`;
      const keptArgv = (...extra: string[]) =>
        args(
          `${kept}.duckdb`,
          '--slot',
          `s_${kept}`,
          '--tables',
          kept,
          '--format-version',
          version,
          ...extra,
        );
      psql(
        c.info,
        `CREATE TABLE ${kept} (id int PRIMARY KEY, v int); CREATE TABLE ${keyless} (id int, v int);
         INSERT INTO ${keyless} VALUES (1, 1)`,
      );
      const first = await runWalduck(keptArgv('--until-caught-up'));
      assert.equal(first.code, 0, first.stderr);
      for (let i = 0; i < 5; i++) psql(c.info, `UPDATE ${keyless} SET v = v + 1`);
      psql(c.info, `DELETE FROM ${keyless}; INSERT INTO ${kept} VALUES (1, 1)`);
      const r = await runWalduck(keptArgv('--until-caught-up'));
      assert.equal(r.code, 0, r.stderr);
      const said = r.stderr.split('\n').filter((l) => l.includes('server WARNING') && l.includes(keyless));
      // Format-version 1 does not say UPDATE from DELETE: one line; format-version 2: one of each.
      assert.equal(said.length, version === '2' ? 2 : 1, r.stderr);
      for (const l of said) assert.match(l, /does not follow/);
      await assertReplicaEquals(c.info, join(dir, `${kept}.duckdb`), [{ schema: 'public', table: kept }]);
    });
  });
}
