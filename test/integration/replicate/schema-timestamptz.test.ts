// ALTER COLUMN … TYPE timestamptz: PostgreSQL converts the rows in the TimeZone of the session that
// runs the ALTER, which no catalog records. walduck used the server's configured zone (or, when the
// role could not read pg_file_settings, its log_timezone): an ALTER run under another zone left every
// existing row shifted in DuckDB, exit 0, a warning the only sign. The rows are now read back from the
// source by key; a keyless table, whose rows cannot be matched, stops with one line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

describe('timestamp to timestamptz, altered in a session of another time zone', () => {
  const c = useCluster();
  const dir = useWorkdir('walduck-schema-tz-');
  const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
  const replicate = (file: string, table: string) =>
    runWalduck([...args(file, '--tables', table), '--until-caught-up']);
  // Chatham is UTC+12:45 or +13:45: no guess of the server's zone lands on it.
  const alter = (table: string) =>
    `BEGIN; SET LOCAL TimeZone = 'Pacific/Chatham';
     ALTER TABLE ${table} ALTER COLUMN ts TYPE timestamptz;
     COMMIT;`;

  it('keyed: the rows already there take the values the source converted', async () => {
    psql(
      c.info,
      `CREATE TABLE tzk (id int PRIMARY KEY, ts timestamp, v text);
       INSERT INTO tzk SELECT g, '2020-06-01 12:00'::timestamp + g * interval '7 hours', 'v' || g FROM generate_series(1, 50) g;
       INSERT INTO tzk VALUES (51, NULL, 'null ts'), (52, '0044-03-15 12:00 BC', 'bc')`,
    );
    const first = await replicate('k.duckdb', 'tzk');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `${alter('tzk')}
       INSERT INTO tzk VALUES (60, '2021-01-01 00:00+05', 'after');
       UPDATE tzk SET v = 'touched' WHERE id = 3; DELETE FROM tzk WHERE id = 4`,
    );
    const r = await replicate('k.duckdb', 'tzk');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /ALTER COLUMN ts TYPE timestamp with time zone .*existing rows take the values the source holds now/,
    );
    await assertReplicaEquals(c.info, join(dir, 'k.duckdb'), [{ schema: 'public', table: 'tzk' }]);
  });

  // Not resync: it copies in key chunks and refuses a table recorded without a key.
  it('keyless: stops with one line naming a new DuckDB file, nothing guessed', async () => {
    psql(
      c.info,
      `CREATE TABLE tzn (ts timestamp, v text); ALTER TABLE tzn REPLICA IDENTITY FULL;
       INSERT INTO tzn VALUES ('2020-06-01 12:00', 'a')`,
    );
    const first = await replicate('n.duckdb', 'tzn');
    assert.equal(first.code, 0, first.stderr);
    psql(c.info, `${alter('tzn')} INSERT INTO tzn VALUES ('2021-01-01 00:00+05', 'b')`);
    const r = await replicate('n.duckdb', 'tzn');
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /time zone of the session that ran the ALTER.*no key to match them by.*new DuckDB file/,
    );
  });

  // The fill is an UPDATE of the DuckDB table, which DuckDB then refuses to ALTER in the same
  // transaction: a later DDL of the table in the same batch must rebuild it instead.
  it('another ALTER of the table in the same source transaction after the fill', async () => {
    psql(
      c.info,
      `CREATE TABLE tz2 (id int PRIMARY KEY, ts timestamp);
       INSERT INTO tz2 SELECT g, '2020-06-01 12:00'::timestamp + g * interval '5 hours' FROM generate_series(1, 20) g`,
    );
    const first = await replicate('two.duckdb', 'tz2');
    assert.equal(first.code, 0, first.stderr);
    psql(
      c.info,
      `BEGIN; SET LOCAL TimeZone = 'Pacific/Chatham';
       ALTER TABLE tz2 ALTER COLUMN ts TYPE timestamptz; INSERT INTO tz2 VALUES (30, '2021-01-01 00:00+05');
       ALTER TABLE tz2 ADD COLUMN x int DEFAULT 7; INSERT INTO tz2 VALUES (31, '2021-01-02 00:00+05', 8);
       COMMIT;`,
    );
    const r = await replicate('two.duckdb', 'tz2');
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals(c.info, join(dir, 'two.duckdb'), [{ schema: 'public', table: 'tz2' }]);
  });
});
