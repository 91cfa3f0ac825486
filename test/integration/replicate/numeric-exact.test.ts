// --numeric exact against a real server: the snapshot picks the narrowest DECIMAL(38,s) that holds a
// column's values (VARCHAR when none does), the stream widens a column in the DuckDB transaction of
// the first value that does not fit, a restart recognises the widened table, and a kill -9 in the
// middle of a widening leaves a replica that catches up exactly. Under the default mapping a NaN in
// numeric(p,s) and a null for a NOT NULL float stop with one line instead of storing NULL.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const dir = useWorkdir('walduck-numeric-');

const LSN = /LSN [0-9A-F]+\/[0-9A-F]+/;

describe('--numeric exact: DECIMAL(38,s) where the values fit, widened losslessly where they stop fitting', () => {
  const c = useCluster();
  const args = (file: string, tables: string, slot: string, ...extra: string[]) => [
    'replicate',
    '--source',
    conninfo(c.info, 'scram-sha-256'),
    '--duckdb',
    join(dir, file),
    '--tables',
    tables,
    '--slot',
    slot,
    ...extra,
  ];
  const types = (file: string, table: string) =>
    duckQuery(
      join(dir, file),
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`,
    );

  /** Every numeric column equal by value (PostgreSQL's trim_scale against DuckDB's text without padding). */
  async function assertEqualValues(file: string, table: string, cols: readonly string[]): Promise<void> {
    const pg = psql(
      c.info,
      `SELECT concat_ws('|', id, ${cols.map((n) => `coalesce(trim_scale(${n})::text, 'NULL')`).join(', ')}) FROM ${table} ORDER BY id`,
    )
      .split('\n')
      .filter((l) => l !== '');
    const trim = (v: string) =>
      `CASE WHEN contains(${v}, '.') THEN rtrim(rtrim(${v}, '0'), '.') ELSE ${v} END`;
    const duck = (
      await duckQuery(
        join(dir, file),
        `SELECT concat_ws('|', id, ${cols.map((n) => `coalesce(${trim(`CAST(${n} AS VARCHAR)`)}, 'NULL')`).join(', ')}) FROM ${table} ORDER BY id`,
      )
    ).map((r) => String(r[0]));
    assert.deepEqual(duck, pg);
  }

  it('picks the narrowest DECIMAL at the snapshot, widens on the stream, survives kill -9 and restarts', async () => {
    psql(
      c.info,
      `CREATE TABLE nx (id int PRIMARY KEY, n numeric, d numeric(8,3), d2 numeric(8,3), w numeric(50,2), k bigint);
       CREATE TABLE ne (id int PRIMARY KEY, n numeric);
       CREATE TABLE nk (k numeric PRIMARY KEY, v int); INSERT INTO nk VALUES (1.50, 1);
       INSERT INTO nx VALUES (1, 1.5, 1.250, 1, 12.34, 1), (2, -12.25, 'NaN', NULL, NULL, 2), (3, NULL, NULL, -7.5, -0.5, 3);`,
    );
    const a = args('nx.duckdb', 'nx,ne,nk', 'nx_slot', '--numeric', 'exact', '--batch-ms', '10');
    const first = await runWalduck([...a, '--until-caught-up']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await types('nx.duckdb', 'nx'), [
      ['id', 'INTEGER'],
      // Two fraction digits at most, and room for 9: DECIMAL(38,9).
      ['n', 'DECIMAL(38,9)'],
      // A NaN has no DECIMAL form: the column keeps PostgreSQL's text.
      ['d', 'VARCHAR'],
      ['d2', 'DECIMAL(8,3)'],
      ['w', 'DECIMAL(38,2)'],
      ['k', 'BIGINT'],
    ]);
    assert.deepEqual(await types('nx.duckdb', 'ne'), [
      ['id', 'INTEGER'],
      ['n', 'DECIMAL(38,9)'],
    ]);
    assert.deepEqual(await duckQuery(join(dir, 'nx.duckdb'), 'SELECT d FROM nx ORDER BY id'), [
      ['1.250'],
      ['NaN'],
      [null],
    ]);

    // One transaction that updates the table, then needs 12 fraction digits: the ALTER must become a
    // rebuild (DuckDB refuses to commit an ALTER of a table updated in the same transaction).
    psql(
      c.info,
      `BEGIN; UPDATE nx SET d2 = 2, k = 20 WHERE id = 1; INSERT INTO nx VALUES (4, 0.123456789012, 4, 4, 4, 4); COMMIT;
       INSERT INTO nx VALUES (5, 1e30, NULL, NULL, 1e40, 5);
       INSERT INTO ne VALUES (1, 0.5), (2, 99999999999999999999999999999);
       INSERT INTO nk VALUES (1e40, 2), (2.50, 5);
       UPDATE nk SET v = 3 WHERE k = 1.50;`,
    );
    // Killed the moment the first widening is said: inside its open DuckDB transaction, or just after.
    const killed = startWalduck(a);
    await new Promise<void>((resolve, reject) => {
      killed.child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('widened from')) resolve();
      });
      killed.done.then((r) => reject(new Error(`ended before widening: ${r.stderr}`)));
    });
    killed.child.kill('SIGKILL');
    const k = await killed.done;
    assert.equal(k.signal, 'SIGKILL');

    const r = await runWalduck([...a, '--until-caught-up']);
    assert.equal(r.code, 0, r.stderr);
    // The killed run may have committed its first widening or not: between the two runs, each is said.
    const said = `${k.stderr}${r.stderr}`;
    const widened = said.split('\n').filter((l) => l.includes('widened from'));
    assert.ok(
      widened.some((l) =>
        /public\.nx: column n widened from DECIMAL\(38,9\) to DECIMAL\(38,12\) at LSN/.test(l),
      ),
      said,
    );
    assert.ok(
      widened.some((l) => /public\.nx: column n widened from DECIMAL\(38,12\) to VARCHAR/.test(l)),
      said,
    );
    assert.ok(
      widened.some((l) => /public\.nx: column w widened from DECIMAL\(38,2\) to VARCHAR/.test(l)),
      said,
    );
    for (const l of widened) assert.match(l, LSN);
    // 29 integer digits fit the 29 DECIMAL(38,9) leaves: no widening for ne.
    assert.ok(!said.includes('public.ne: column n widened'), said);
    assert.deepEqual(await types('nx.duckdb', 'nx'), [
      ['id', 'INTEGER'],
      ['n', 'VARCHAR'],
      ['d', 'VARCHAR'],
      ['d2', 'DECIMAL(8,3)'],
      ['w', 'VARCHAR'],
      ['k', 'BIGINT'],
    ]);
    await assertEqualValues('nx.duckdb', 'nx', ['n', 'd', 'd2', 'w', 'k']);
    await assertEqualValues('nx.duckdb', 'ne', ['n']);
    // A numeric key widened to text still matches the key as the stream writes it (1.50 for 1.5).
    assert.ok(!said.includes('no longer equals the source'), said);
    assert.deepEqual(
      await duckQuery(join(dir, 'nx.duckdb'), 'SELECT k, v FROM nk ORDER BY v'),
      [
        ['1.5', 3],
        ['2.5', 5],
        [`1${'0'.repeat(40)}`, 2],
      ].sort((x, y) => Number(x[1]) - Number(y[1])),
    );
    // A declared scale widened to text keeps PostgreSQL's own text, padding and all.
    assert.deepEqual(
      await duckQuery(join(dir, 'nx.duckdb'), 'SELECT w FROM nx WHERE id IN (1, 5) ORDER BY id'),
      [['12.34'], [`1${'0'.repeat(40)}.00`]],
    );

    // A restart recognises the widened tables; a value that fits VARCHAR needs nothing more, and a
    // column added on the source starts at DECIMAL(38,9) and widens like any other.
    psql(
      c.info,
      'INSERT INTO nx VALUES (6, 0.25, 6, 6, 6, 6); ALTER TABLE ne ADD COLUMN m numeric; INSERT INTO ne VALUES (3, 1, 0.1234567890123)',
    );
    const again = await runWalduck([...a, '--until-caught-up']);
    assert.equal(again.code, 0, again.stderr);
    const more = again.stderr.split('\n').filter((l) => l.includes('widened'));
    assert.equal(more.length, 1, again.stderr);
    assert.match(
      more[0] ?? '',
      /public\.ne: column m widened from DECIMAL\(38,9\) to DECIMAL\(38,13\) at LSN/,
    );
    await assertEqualValues('nx.duckdb', 'nx', ['n', 'd', 'd2', 'w', 'k']);
    await assertEqualValues('nx.duckdb', 'ne', ['n', 'm']);
    // verify reads the mapping from the file: numerics compared by value, whatever type they were widened to.
    const v = await runWalduck(
      ['verify', '--source', conninfo(c.info, 'scram-sha-256'), '--duckdb', join(dir, 'nx.duckdb')],
      {},
      120_000,
    );
    assert.equal(v.code, 0, `${v.stdout}\n${v.stderr}`);
    assert.match(v.stdout, /public\.nx: EQUAL, 6 rows\n/);
    assert.match(v.stdout, /public\.ne: EQUAL, 3 rows\n/);
    assert.match(v.stdout, /public\.nk: EQUAL, 3 rows\n/);
  });

  it('the default mapping stops on a NaN in numeric(p,s) with one line, and --numeric exact keeps it as text', async () => {
    psql(
      c.info,
      "CREATE TABLE nf (id int PRIMARY KEY, d numeric(8,3)); INSERT INTO nf VALUES (1, 1.5), (7, 'NaN')",
    );
    const r = await runWalduck([...args('nf.duckdb', 'nf', 'nf_slot'), '--until-caught-up']);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /table public\.nf, column d, key \(id\) = \("7"\), snapshot at LSN .*NaN or ±Infinity.*--numeric exact/,
    );
    const x = await runWalduck([
      ...args('nfx.duckdb', 'nf', 'nfx_slot', '--numeric', 'exact'),
      '--until-caught-up',
    ]);
    assert.equal(x.code, 0, x.stderr);
    assert.deepEqual(await duckQuery(join(dir, 'nfx.duckdb'), 'SELECT id, d FROM nf ORDER BY id'), [
      [1, '1.500'],
      [7, 'NaN'],
    ]);
  });

  it('a null streamed for a NOT NULL float or numeric (wal2json 2.5 prints NaN so) stops with one line', async () => {
    psql(c.info, 'CREATE TABLE nn (id int PRIMARY KEY, f float8 NOT NULL, n numeric NOT NULL, g float8)');
    const a = args('nn.duckdb', 'nn', 'nn_slot', '--until-caught-up');
    const first = await runWalduck(a);
    assert.equal(first.code, 0, first.stderr);
    // A NaN in a nullable column arrives as null like any NULL: documented, not detectable here.
    psql(c.info, "INSERT INTO nn VALUES (1, 1, 1, 'NaN'), (2, 'NaN', 2, 2)");
    const r = await runWalduck(a);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /table public\.nn, column f, key \(id\) = \("2"\), LSN /);
    assert.match(lines[0] ?? '', /NOT NULL double precision column.*NaN, Infinity and -Infinity/);
    // Nothing of that transaction was stored.
    assert.deepEqual(await duckQuery(join(dir, 'nn.duckdb'), 'SELECT count(*) FROM nn'), [[0n]]);
  });
});
