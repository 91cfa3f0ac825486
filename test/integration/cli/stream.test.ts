// walduck stream against pg_recvlogical: two slots created before the same workload, the same range
// read from each, and the outputs compared byte for byte (stdout and -f FILE, format 1 and 2).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clusterEnv, conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';
import { assertOneLine } from './usage.js';

const dir = useWorkdir('walduck-stream-');

const WORKLOAD = `
  INSERT INTO w SELECT g, 'row ' || g, g * 1.25 FROM generate_series(1, 500) g;
  BEGIN; UPDATE w SET t = E'multi\\nline "quoted" \\\\ 😀' WHERE id % 7 = 0; DELETE FROM w WHERE id > 480; COMMIT;
  SELECT pg_logical_emit_message(true, 'walduck', 'a message');
  INSERT INTO w VALUES (10000, repeat('long ', 20000), 123456789012345678901234567890.123456789);
  TRUNCATE w2;
  INSERT INTO w3 VALUES (1, '2024-06-30 23:59:59.5+00', '0044-03-15 BC', '-1 days +02:03:04.000005', 0.1, '\\x00ff'),
    (2, '1850-01-01 00:00:00+00', 'infinity', '1 year -2 mons', 1e-300, '\\x');`;

describe('walduck stream', () => {
  // A server whose settings are not walduck's pins: LMT offsets with seconds before 1884 (St. John's
  // and Amsterdam both had them), day-first dates, verbose intervals, short floats, escape bytea. What
  // stream writes must still equal pg_recvlogical's bytes.
  const c = useCluster({
    settings: {
      timezone: "'America/St_Johns'",
      datestyle: "'SQL, DMY'",
      intervalstyle: "'postgres_verbose'",
      extra_float_digits: '0',
      bytea_output: "'escape'",
    },
  });
  const env = () => clusterEnv(c.info);
  const lsn = () => psql(c.info, 'SELECT pg_current_wal_lsn()');
  const recvlogical = (slot: string, endpos: string, file: string, opts: string[]) => {
    const r = spawnSync(
      'pg_recvlogical',
      ['-d', c.info.database, '-S', slot, '--start', '--no-loop', '--endpos', endpos, '-f', file, ...opts],
      { env: { ...process.env, ...env() }, encoding: 'buffer', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stdout;
  };
  const slots = (...names: string[]) => {
    for (const n of names) psql(c.info, `SELECT pg_create_logical_replication_slot('${n}', 'wal2json')`);
  };

  it('writes to stdout byte for byte what pg_recvlogical -f - writes, range after range', async () => {
    psql(
      c.info,
      'CREATE TABLE w (id int PRIMARY KEY, t text, n numeric); CREATE TABLE w2 (id int PRIMARY KEY); CREATE TABLE w3 (id int PRIMARY KEY, ts timestamptz, d date, iv interval, f float8, b bytea)',
    );
    slots('ref_v2', 'wd_v2');
    const opts = ['-o', 'format-version=2', '-o', 'include-xids=1', '-o', 'include-timestamp=1'];
    // Two ranges: the second shows both acknowledged the first (nothing is sent twice).
    for (const round of [1, 2]) {
      psql(
        c.info,
        round === 1 ? WORKLOAD : 'UPDATE w SET n = n + 1 WHERE id < 50; DELETE FROM w WHERE id < 10',
      );
      const endpos = lsn();
      const expected = recvlogical('ref_v2', endpos, '-', opts);
      const r = await runWalduck(['stream', '-S', 'wd_v2', '--endpos', endpos, ...opts], env());
      assert.equal(r.code, 0, r.stderr);
      assert.ok(expected.length > (round === 1 ? 100_000 : 1000), `round ${round}: ${expected.length} bytes`);
      // Bytes, not text: wal2json under bytea_output=escape prints raw non-UTF-8 bytes, which both must pass on.
      assert.ok(r.stdoutBytes.equals(expected), `round ${round} differs`);
      // The server's own settings reached the output (what pinning used to replace).
      if (round === 1) {
        assert.match(r.stdout, /"@ 10 mons"/);
        assert.match(r.stdout, /-03:30"/);
      }
    }
  });

  it('writes a file (appending) the same, in format 1 with no options, and records its figures', async () => {
    slots('ref_v1', 'wd_v1');
    psql(c.info, `DELETE FROM w; DELETE FROM w3; ${WORKLOAD.replace('500)', '300)')}`);
    const endpos = lsn();
    const refFile = join(dir, 'ref.json');
    const ourFile = join(dir, 'ours.json');
    writeFileSync(refFile, 'before\n');
    writeFileSync(ourFile, 'before\n');
    recvlogical('ref_v1', endpos, refFile, []);
    const stats = join(dir, 'stats.json');
    const r = await runWalduck(
      ['stream', '-S', 'wd_v1', '--endpos', endpos, '-f', ourFile, '--stats-json', stats],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(ourFile).equals(readFileSync(refFile)));
    const s = JSON.parse(readFileSync(stats, 'utf8')) as Record<string, unknown>;
    const text = readFileSync(ourFile, 'utf8');
    assert.equal(s.changes, text.split('"kind":').length - 1);
    assert.equal(s.stopped_by, 'endpos');
    assert.equal(s.bytes, Buffer.byteLength(text) - 'before\n'.length - (text.split('\n').length - 2));
    // The file was fsynced before the end, so the slot confirmed (at least) the last transaction.
    const confirmed = psql(
      c.info,
      "SELECT confirmed_flush_lsn >= (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'ref_v1') FROM pg_replication_slots WHERE slot_name = 'wd_v1'",
    );
    assert.equal(confirmed, 't');
  });

  it('passes -o NAME without a value, as pg_recvlogical does (wal2json reads it as true)', async () => {
    slots('ref_flags', 'wd_flags');
    psql(c.info, 'UPDATE w SET n = n + 1 WHERE id < 20');
    const endpos = lsn();
    const opts = ['-o', 'include-xids', '-o', 'pretty-print'];
    const expected = recvlogical('ref_flags', endpos, '-', opts);
    const stats = join(dir, 'flags.json');
    const r = await runWalduck(
      ['stream', '-S', 'wd_flags', '--endpos', endpos, '--stats-json', stats, ...opts],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    // pretty-print took effect (tabs and newlines inside a document), and include-xids did.
    assert.match(r.stdout, /^\t"xid": \d+,$/m);
    assert.ok(r.stdoutBytes.equals(expected), r.stdout.slice(0, 300));
    const s = JSON.parse(readFileSync(stats, 'utf8')) as Record<string, unknown>;
    assert.equal(s.transactions, 1);
    assert.equal(s.changes, Number(psql(c.info, 'SELECT count(*) FROM w WHERE id < 20')));
  });

  it('--create-slot --if-not-exists and --drop-slot manage the slot around the stream', async () => {
    const endpos = lsn();
    const args = ['stream', '-S', 'made', '--create-slot', '--endpos', endpos];
    const r = await runWalduck([...args, '--drop-slot'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'made'"), '0');
    const kept = await runWalduck(args, env());
    assert.equal(kept.code, 0, kept.stderr);
    assertOneLine(await runWalduck(args, env()), 1, /already exists/);
    const again = await runWalduck([...args, '--if-not-exists'], env());
    assert.equal(again.code, 0, again.stderr);
  });

  it('logs plain progress lines when stderr is not a terminal, and stops cleanly on SIGINT', async () => {
    slots('live');
    const { child, done } = startWalduck(
      [
        'stream',
        '-S',
        'live',
        '--progress-interval',
        '1',
        '-o',
        'format-version=2',
        '-f',
        join(dir, 'live.jsonl'),
      ],
      env(),
    );
    let stderr = '';
    const line = new Promise<string>((resolve) => {
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m =
          /^walduck stream: [1-9]\d* changes \(\d+\/s, [\d.]+ MB\/s\), \d+ transactions, at \d+\/[0-9A-F]+, lag \d+ bytes.*$/m.exec(
            stderr,
          );
        if (m) resolve(m[0]);
      });
    });
    psql(c.info, 'INSERT INTO w SELECT g, $$live$$, 1 FROM generate_series(20001, 20100) g');
    await line;
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /100 changes in 1 transactions.*\(signal\)/);
  });

  it('replicate shows the same figures and writes --stats-json', async () => {
    const stats = join(dir, 'replicate-stats.json');
    const r = await runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'trust'),
      '--duckdb',
      join(dir, 'r.duckdb'),
      '--tables',
      'w',
      '--until-caught-up',
      '--stats-json',
      stats,
    ]);
    assert.equal(r.code, 0, r.stderr);
    psql(c.info, 'UPDATE w SET n = 0 WHERE id <= 50');
    const again = await runWalduck([
      'replicate',
      '--source',
      conninfo(c.info, 'trust'),
      '--duckdb',
      join(dir, 'r.duckdb'),
      '--tables',
      'w',
      '--until-caught-up',
      '--stats-json',
      stats,
    ]);
    assert.equal(again.code, 0, again.stderr);
    const s = JSON.parse(readFileSync(stats, 'utf8')) as Record<string, unknown>;
    const updated = Number(psql(c.info, 'SELECT count(*) FROM w WHERE id <= 50'));
    assert.equal(s.command, 'replicate');
    assert.equal(s.changes, updated);
    assert.equal(s.transactions, 1);
    assert.equal(s.stopped_by, 'caught-up');
    assert.ok((s.bytes as number) > 0);
  });

  it('usage errors exit 2 with one line', async () => {
    assertOneLine(await runWalduck(['stream'], env()), 2, /slot/);
    assertOneLine(await runWalduck(['stream', '-S', 'x', '--endpos', 'soon'], env()), 2, /not an LSN/);
    assertOneLine(await runWalduck(['stream', '-S', 'x', '-o', '=2'], env()), 2, /NAME or NAME=VALUE/);
    assertOneLine(await runWalduck(['stream', '-S', 'x', '-o', ''], env()), 2, /NAME or NAME=VALUE/);
    assertOneLine(await runWalduck(['stream', '-S', 'x', '--bogus'], env()), 2, /bogus/);
    const help = await runWalduck(['stream', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--endpos/);
    assert.match(help.stdout, /Examples:/);
  });
});
