// All-tables mode: a table that can be replicated but cannot land in DuckDB as walduck makes tables
// (two columns one apart only in case, which DuckDB's case-insensitive names would make one) stopped
// every other table's replication, at start or when it was created while walduck ran, and the way out
// was to list every other table with --tables. It is now skipped as a table without a key is: one
// line, recorded skipped, the rest replicated; once the source is changed so that it can land, it
// joins (copied online) within about a second, or at the next start. --tables still refuses it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import {
  caughtUp,
  copyDone,
  replicateArgs,
  runWalduck,
  startWatched,
  tableState,
} from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-landing-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

const state = (file: string, table: string) => tableState(join(dir, file), `public.${table}`);

describe('a table with two columns one apart in case (all-tables mode)', () => {
  it('is skipped in one line, at start and when created while walduck runs, and joins once renamed', {
    timeout: 120_000,
  }, async () => {
    psql(
      c.info,
      `CREATE TABLE fine (id int PRIMARY KEY, v text); INSERT INTO fine VALUES (1, 'a');
       CREATE TABLE twocase (id int PRIMARY KEY, "A" int, a int); INSERT INTO twocase VALUES (1, 1, 2), (2, 3, 4)`,
    );
    const first = await runWalduck(args('case.duckdb', '--slot', 'case', '--until-caught-up'));
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /not replicating public\.twocase: table public\.twocase has columns "A" and a, which DuckDB cannot tell apart[^\n]*state skipped/,
    );
    assert.equal(await state('case.duckdb', 'twocase'), 'skipped');
    await assertReplicaEquals(c.info, join(dir, 'case.duckdb'), [t('fine')]);

    const run = startWatched(args('case.duckdb', '--slot', 'case'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        `CREATE TABLE later (id int PRIMARY KEY, "B" text, b text); INSERT INTO later VALUES (1, 'x', 'y');
         INSERT INTO twocase VALUES (3, 5, 6); INSERT INTO fine VALUES (2, 'b')`,
      );
      await run.waitFor(
        /not replicating new table public\.later: table public\.later has columns "B" and b, which DuckDB cannot tell apart/,
      );
      psql(c.info, `INSERT INTO later VALUES (2, 'z', 'w'); ALTER TABLE later RENAME COLUMN "B" TO b_upper`);
      psql(c.info, `ALTER TABLE twocase RENAME COLUMN "A" TO a_upper; UPDATE twocase SET a = 9 WHERE id = 1`);
      await run.waitFor(copyDone('later'));
      await run.waitFor(copyDone('twocase'));
      psql(c.info, `INSERT INTO later VALUES (3, 'p', 'q'); DELETE FROM twocase WHERE id = 2`);
      psql(c.info, 'INSERT INTO fine VALUES (3, $$c$$)');
      await caughtUp(run, c.info);
    } finally {
      run.child.kill('SIGINT');
    }
    const second = await run.done;
    assert.equal(second.code, 0, second.stderr);
    const last = await runWalduck(args('case.duckdb', '--slot', 'case', '--until-caught-up'));
    assert.equal(last.code, 0, last.stderr);
    await assertReplicaEquals(c.info, join(dir, 'case.duckdb'), [t('fine'), t('later'), t('twocase')]);
    for (const name of ['later', 'twocase']) assert.equal(await state('case.duckdb', name), 'streaming');
    // One the replica follows already is not skipped (taken out of the set it was stopped, or
    // dropped by --drop-removed, and never joined in the run): refused in one line, its record kept.
    psql(c.info, `ALTER TABLE later ADD COLUMN "B_UPPER" int; INSERT INTO later VALUES (4, 'r', 's', 1)`);
    const refused = await runWalduck(
      args('case.duckdb', '--slot', 'case', '--drop-removed', '--until-caught-up'),
    );
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr.trim(),
      /^walduck: [^\n]*two columns named "B_UPPER" apart from case, which DuckDB cannot tell apart[^\n]*$/,
    );
    assert.equal(await state('case.duckdb', 'later'), 'streaming');
    psql(c.info, 'DROP TABLE fine, twocase, later');
  });
});
