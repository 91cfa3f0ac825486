// walduck slot create|drop|list|status, run as a user runs them (the built bin in a child process).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clusterEnv, conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';
import { assertOneLine } from './usage.js';

const dir = useWorkdir('walduck-slot-');

describe('walduck slot', () => {
  const c = useCluster();
  const run = (...args: string[]) => runWalduck(['slot', ...args], clusterEnv(c.info));
  const server = (slot: string, col: string) =>
    psql(c.info, `SELECT ${col} FROM pg_replication_slots WHERE slot_name = '${slot}'`);

  it('creates a wal2json slot, refuses a second one, and --if-not-exists accepts it', async () => {
    const r = await run('create', '-S', 'one');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server('one', 'plugin'), 'wal2json');
    assert.equal(server('one', 'temporary'), 'f');
    assert.match(r.stdout, new RegExp(`slot one created at ${server('one', 'confirmed_flush_lsn')}`));
    assertOneLine(await run('create', 'one'), 1, /already exists/);
    const again = await run('create', 'one', '--if-not-exists');
    assert.equal(again.code, 0, again.stderr);
  });

  it('lists slots with plugin, PID, both LSNs, WAL retained and lag in bytes and human units', async () => {
    psql(
      c.info,
      'CREATE TABLE IF NOT EXISTS grow (x text); INSERT INTO grow SELECT repeat($$x$$, 100) FROM generate_series(1, 20000)',
    );
    const r = await run('list');
    assert.equal(r.code, 0, r.stderr);
    const [header, , line] = r.stdout.split('\n');
    assert.match(
      header ?? '',
      /slot\s+plugin\s+database\s+active_pid\s+confirmed_flush_lsn\s+restart_lsn\s+wal_retained\s+lag/,
    );
    const retained = psql(
      c.info,
      "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = 'one'",
    );
    assert.ok(Number(retained) > 2 * 1024 * 1024, retained);
    const cols = (line ?? '').split(/\s{2,}/);
    assert.equal(cols[0], 'one');
    assert.equal(cols[1], 'wal2json');
    assert.equal(cols[3], '-');
    assert.equal(cols[4], server('one', 'confirmed_flush_lsn'));
    assert.equal(cols[5], server('one', 'restart_lsn'));
    // Nothing wrote WAL between the two reads, so the byte counts agree exactly.
    assert.equal(cols[6], `${retained} (${psql(c.info, `SELECT pg_size_pretty(${retained}::bigint)`)})`);
    const json = await run('list', '--json');
    const parsed = JSON.parse(json.stdout.trim()) as Record<string, unknown>;
    assert.equal(parsed.retained_bytes, Number(retained));
  });

  it('status shows one slot and warns above the retained-WAL threshold', async () => {
    const quiet = await run('status', '-S', 'one');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.match(quiet.stdout, /^plugin\s+wal2json$/m);
    const loud = await run('status', '-S', 'one', '--warn-retained', '1MB');
    assert.equal(loud.code, 0, loud.stderr);
    assert.match(loud.stderr, /warning: slot one retains \d+ kB of WAL \(more than 1024 kB\)/);
    assertOneLine(await run('status', '-S', 'nope'), 1, /no replication slot named nope/);
  });

  it('status --duckdb shows the LSN a replica holds', async () => {
    psql(c.info, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    const file = join(dir, 'r.duckdb');
    const rep = await runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'trust'),
      '--duckdb',
      file,
      '--tables',
      't',
      '--slot',
      'rep',
      '--until-caught-up',
    ]);
    assert.equal(rep.code, 0, rep.stderr);
    psql(c.info, 'INSERT INTO t VALUES (2)');
    const [[stored]] = (await duckQuery(file, "SELECT lsn FROM walduck.state WHERE slot = 'rep'")) as [
      [string],
    ];
    const r = await run('status', 'rep', '--duckdb', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^duckdb_lsn\\s+${stored} \\(`, 'm'));
    const j = await run('status', 'rep', '--duckdb', file, '--json');
    assert.equal((JSON.parse(j.stdout) as { duckdb_lsn: string }).duckdb_lsn, stored);
  });

  it('drops, and --if-exists makes a missing slot fine', async () => {
    assert.equal((await run('drop', '-S', 'one')).code, 0);
    assert.equal(server('one', 'count(*)'), '0');
    assertOneLine(await run('drop', '-S', 'one'), 1, /does not exist/);
    assert.equal((await run('drop', '-S', 'one', '--if-exists')).code, 0);
  });

  it('connects with -d as a conninfo or URL, -h/-p/-U overriding it', async () => {
    const env = { PGHOST: '', PGPORT: '', PGUSER: '', PGDATABASE: '' };
    const url = `postgresql://nobody@127.0.0.1:1/${c.info.database}?sslmode=disable`;
    const r = await runWalduck(['slot', 'list', '-d', url, '-p', String(c.info.port), '-U', 'wd_trust'], env);
    assert.equal(r.code, 0, r.stderr);
    const ci = conninfo(c.info, 'scram-sha-256');
    const s = await runWalduck(['slot', 'list', '-d', ci], env);
    assert.equal(s.code, 0, s.stderr);
  });

  /** The PID holding `slot` once it is held (polled, not slept for). */
  async function activePid(slot: string): Promise<string> {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const pid = server(slot, 'active_pid');
      if (pid !== '') return pid;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`slot ${slot} never became active`);
  }

  it('create --temporary holds the slot until Ctrl-C; list and status show the PID holding it', async () => {
    const { child, done } = startWalduck(['slot', 'create', '-S', 'held', '--temporary'], clusterEnv(c.info));
    const pid = await activePid('held');
    assert.equal(server('held', 'temporary'), 't');
    const list = await run('list');
    const row = list.stdout.split('\n').find((l) => l.startsWith('held '));
    assert.equal(row?.split(/\s{2,}/)[3], pid, list.stdout);
    const status = await run('status', 'held');
    assert.match(status.stdout, /^type\s+logical, temporary$/m);
    assert.match(status.stdout, new RegExp(`^active_pid\\s+${pid}$`, 'm'));
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^temporary slot held created at \d+\/[0-9A-F]+$/m);
    assert.match(r.stderr, /holding the temporary slot until Ctrl-C/);
    assert.equal(server('held', 'count(*)'), '0');
  });

  it('create --temporary says so and exits 1 when the server ends the session (the slot goes too)', async () => {
    const { done } = startWalduck(['slot', 'create', '-S', 'cut', '--temporary'], clusterEnv(c.info));
    psql(c.info, `SELECT pg_terminate_backend(${await activePid('cut')})`);
    const r = await done;
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stderr); // "holding ..." and the error
    assert.match(
      lines[1] ?? '',
      /^walduck: slot create failed: the session holding temporary slot cut ended: /,
    );
    assert.equal(server('cut', 'count(*)'), '0');
  });

  it('usage errors exit 2 with one line', async () => {
    assertOneLine(await run('create'), 2, /usage|slot/);
    assertOneLine(await run('create', '-S', 'Not-Valid'), 2, /not valid/);
    assertOneLine(await run('frobnicate'), 2, /usage/);
    assertOneLine(await run('status', 'x', '--warn-retained', 'lots'), 2, /not a size/);
    const help = await run('create', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
  });
});
