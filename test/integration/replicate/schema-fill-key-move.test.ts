// A column filled from the source (a widening ALTER … TYPE of a non-key column, an ADD COLUMN with
// a per-row default, timestamp -> timestamptz) takes the value the source holds when walduck reads
// it, for each key, at the change's place in the stream. A primary-key UPDATE streamed after that
// place but committed before the read, which leaves the filled column out (an unchanged TOASTed
// value: wal2json omits it), would move the value read for the OLD key, which by the read may be
// another row's: `UPDATE SET id = 3 WHERE id = 1; UPDATE SET id = 1 WHERE id = 2` after `ALTER s
// TYPE text` left row 3 with row 2's text, exit 0 (found only by `walduck verify`). Such an UPDATE
// now re-copies the table online (fill-window.ts), also when it is streamed by a later run.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('a filled column and keys moved after the fill point', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-fill-key-move-');
  const src = () => conninfo(c.info, 'scram-sha-256');
  const args = replicateArgs(src, dir);
  const replicate = (table: string, ...more: string[]) =>
    runWalduck([
      ...args(`${table}.duckdb`, '--tables', table),
      ...(more.length ? more : ['--until-caught-up']),
    ]);
  const moves = (t: string) => `UPDATE ${t} SET id = 3 WHERE id = 1; UPDATE ${t} SET id = 1 WHERE id = 2`;
  const recopied = (table: string) =>
    new RegExp(
      `public\\.${table}: an UPDATE moved a row to another key without its value of \\w+, .*re-copying public\\.${table} online`,
    );

  /** The replica equals the source, and `walduck verify` says so too. */
  async function same(table: string): Promise<void> {
    await assertReplicaEquals(c.info, join(dir, `${table}.duckdb`), [{ schema: 'public', table }]);
    const v = await runWalduck(
      ['verify', '--source', src(), '--duckdb', join(dir, `${table}.duckdb`)],
      {},
      120_000,
    );
    assert.equal(v.code, 0, `${v.stdout}\n${v.stderr}`);
    assert.match(v.stdout, new RegExp(`public\\.${table}: EQUAL, \\d+ rows\\n`));
  }

  /** Rows 1 and 2 hold TOASTed (out of line) values of `s`; row 4 a small one. */
  async function start(table: string, s = 'varchar(100000)'): Promise<void> {
    psql(
      c.info,
      `CREATE TABLE ${table} (id int PRIMARY KEY, s ${s}, n int, big text);
       ALTER TABLE ${table} ALTER COLUMN s SET STORAGE EXTERNAL;
       ALTER TABLE ${table} ALTER COLUMN big SET STORAGE EXTERNAL;
       INSERT INTO ${table} VALUES (1, repeat('A', 5000), 1, repeat('a', 5000)),
         (2, repeat('B', 5000), 2, repeat('b', 5000)), (4, 'small', 4, 'x')`,
    );
    const first = await replicate(table);
    assert.equal(first.code, 0, first.stderr);
  }

  it('ALTER … TYPE read back by key: a TOASTed value left out of a key UPDATE keeps its row (the table is copied again)', async () => {
    await start('fk');
    psql(c.info, `ALTER TABLE fk ALTER COLUMN s TYPE text; UPDATE fk SET n = 0 WHERE id = 4; ${moves('fk')}`);
    const r = await replicate('fk');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, recopied('fk'));
    await same('fk');
  });

  it('ADD COLUMN with a per-row default: the same, for the added column', async () => {
    await start('fa');
    // Random text too long to stay in the row even compressed: stored out of line, left out of UPDATEs.
    psql(
      c.info,
      `CREATE FUNCTION fa_noise() RETURNS text VOLATILE LANGUAGE sql
         AS $$ SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 400) $$;
       ALTER TABLE fa ADD COLUMN t text DEFAULT fa_noise();
       INSERT INTO fa VALUES (5, 'e', 5, 'e'); ${moves('fa')}`,
    );
    const r = await replicate('fa');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, recopied('fa'));
    await same('fa');
  });

  it('the key UPDATE streamed by the next run, after a stop between the fill and it, re-copies too', async () => {
    await start('fs');
    // --endpos after the change that shows the new type: the fill reads the source after the moves.
    psql(c.info, 'ALTER TABLE fs ALTER COLUMN s TYPE text; UPDATE fs SET n = 0 WHERE id = 4');
    const endpos = psql(c.info, 'SELECT pg_current_wal_lsn()');
    psql(c.info, moves('fs'));
    const first = await replicate('fs', '--endpos', endpos);
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /re-copying/);
    const r = await replicate('fs');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, recopied('fs'));
    await same('fs');
  });

  it('timestamp -> timestamptz: a key UPDATE always carries the value (fixed width), so nothing is copied again', async () => {
    await start('ft');
    psql(
      c.info,
      `ALTER TABLE ft ADD COLUMN ts timestamp DEFAULT '2024-01-02 03:04:05'; UPDATE ft SET n = 9 WHERE id = 4`,
    );
    const added = await replicate('ft');
    assert.equal(added.code, 0, added.stderr);
    psql(
      c.info,
      `SET TimeZone = 'Asia/Kolkata'; ALTER TABLE ft ALTER COLUMN ts TYPE timestamptz;
       UPDATE ft SET ts = ts + interval '1 day' WHERE id = 1; UPDATE ft SET n = 0 WHERE id = 4; ${moves('ft')}`,
    );
    const r = await replicate('ft');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /re-copying/);
    await same('ft');
  });
});
