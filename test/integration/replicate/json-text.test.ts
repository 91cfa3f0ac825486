// A json value holds the source's text, whichever way its row came: PostgreSQL's json keeps a lone
// surrogate escape ("\ud800") as text, which DuckDB's JSON cast refuses and its Appender stores as it
// is. The snapshot's CSV load (a cast) stopped on it, and so did a streamed UPDATE (staged as VARCHAR,
// then cast), while a streamed INSERT stored it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const dir = useWorkdir('walduck-json-text-');

describe('json keeps the source text, lone surrogates included', () => {
  const c = useCluster();
  const file = join(dir, 'j.duckdb');
  const run = () =>
    runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'scram-sha-256'),
      '--duckdb',
      file,
      '--tables',
      'jd,js',
      '--slot',
      'jt_slot',
      '--until-caught-up',
    ]);
  /** id and json text of every row, from the source and from the replica. */
  const source = (t: string) => psql(c.info, `SELECT id || ' ' || j::text FROM ${t} ORDER BY id`).split('\n');
  const replica = async (t: string) =>
    (
      await duckQuery(file, `SELECT CAST(id AS VARCHAR) || ' ' || CAST(j AS VARCHAR) FROM ${t} ORDER BY id`)
    ).map((r) => String(r[0]));

  it('copied by the snapshot, streamed (INSERT and UPDATE), and copied online', async () => {
    // jd appends its rows straight into the table; js (a money column, which no plain cast reads)
    // goes through the staging table.
    const doc = (s: string) => `'{"a": "${s} \\ud800"}'`;
    psql(
      c.info,
      `CREATE TABLE jd (id int PRIMARY KEY, j json); CREATE TABLE js (id int PRIMARY KEY, j json, m money);
       INSERT INTO jd VALUES (1, ${doc('snap')}), (2, '[1, 2]');
       INSERT INTO js VALUES (1, ${doc('snap')}, 1), (2, '[1, 2]', 2)`,
    );
    const first = await run();
    assert.equal(first.code, 0, first.stderr);
    for (const t of ['jd', 'js']) assert.deepEqual(await replica(t), source(t), t);

    psql(
      c.info,
      `INSERT INTO jd VALUES (3, ${doc('ins')}); UPDATE jd SET j = ${doc('upd')} WHERE id = 2;
       INSERT INTO js VALUES (3, ${doc('ins')}, 3); UPDATE js SET j = ${doc('upd')} WHERE id = 2`,
    );
    const streamed = await run();
    assert.equal(streamed.code, 0, streamed.stderr);
    for (const t of ['jd', 'js']) assert.deepEqual(await replica(t), source(t), t);
    assert.match((await replica('js'))[1] ?? '', /^2 \{"a": "upd \\ud800"\}$/);

    for (const t of ['public.jd', 'public.js']) {
      const r = await runWalduck(['resync', '--duckdb', file, '--table', t]);
      assert.equal(r.code, 0, r.stderr);
    }
    const copied = await run();
    assert.equal(copied.code, 0, copied.stderr);
    for (const t of ['jd', 'js']) assert.deepEqual(await replica(t), source(t), t);
  });
});
