// How walduck stream ends, run as a user runs it: a stop the user asked for (SIGTERM) or --endpos is
// exit 0; a stream the server ends or a connection that drops is exit 1 with one line on stderr, and
// what arrived before is still in the output. The real server shows a terminated walsender and a fast
// shutdown; a scripted server shows the CopyDone end and a silent close, which the real one does not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { clusterEnv, psql } from '../../../src/cluster/throwaway.js';
import { encodeCopyData } from '../../../src/protocol/messages/copy-data.js';
import { encodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import {
  type FakeServer,
  fakeServer,
  type Peer,
  R,
  textField,
  trustServer,
} from '../protocol/fake-server.js';
import { assertOneLine } from './usage.js';

const dir = mkdtempSync(join(tmpdir(), 'walduck-stream-end-'));
const servers: FakeServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const ONE_LINE_END = /^walduck: stream failed: .*; output written up to \d+\/[0-9A-F]+/;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('walduck stream: how it ends', () => {
  const c = useCluster();
  const env = () => clusterEnv(c.info);
  /** The walsender's PID once the slot is being streamed (instead of sleeping and hoping). */
  const activePid = (slot: string) =>
    until(`slot ${slot} to be streamed`, () => {
      const pid = psql(c.info, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}'`);
      return pid === '' ? undefined : pid;
    });
  const lines = (file: string) =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const stream = (slot: string, file: string, ...extra: string[]) =>
    startWalduck(
      ['stream', '-S', slot, '-o', 'format-version=2', '-f', file, '--progress-interval', '0', ...extra],
      env(),
    );

  it('SIGTERM is a stop the user asked for: exit 0 and the summary', async () => {
    psql(c.info, 'CREATE TABLE e (id int PRIMARY KEY)');
    psql(c.info, "SELECT pg_create_logical_replication_slot('s_term', 'wal2json')");
    const file = join(dir, 'term.jsonl');
    const { child, done } = stream('s_term', file);
    await activePid('s_term');
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /SIGTERM received, stopping cleanly/);
    assert.match(r.stderr, /^walduck stream: 0 changes in 0 transactions.*\(signal\)$/m);
  });

  it('a terminated walsender is exit 1 with one line; what arrived before is written', async () => {
    psql(c.info, "SELECT pg_create_logical_replication_slot('s_kill', 'wal2json')");
    psql(c.info, 'INSERT INTO e VALUES (1), (2), (3)');
    const file = join(dir, 'kill.jsonl');
    const stats = join(dir, 'kill.json');
    const { child, done } = stream('s_kill', file, '--endpos', 'FF/0', '--stats-json', stats);
    const pid = await activePid('s_kill');
    // B, three I, C: written before the walsender goes (a pipe or file gets what arrived).
    await until('the transaction in the file', () => (lines(file).length >= 5 ? true : undefined));
    psql(c.info, `SELECT pg_terminate_backend(${pid})`);
    const r = await done;
    child.kill('SIGKILL');
    assertOneLine(r, 1, ONE_LINE_END);
    assert.match(
      r.stderr,
      /FATAL 57P01: terminating connection due to administrator command; .*, short of --endpos FF\/0$/m,
    );
    assert.equal(lines(file).filter((l) => l.includes('"action":"I"')).length, 3);
    const s = JSON.parse(readFileSync(stats, 'utf8')) as Record<string, unknown>;
    assert.equal(s.stopped_by, 'error');
    assert.equal(s.changes, 3);
  });

  it('a stream the server ends (fast shutdown) is exit 1 with one line, not a success', async () => {
    psql(c.info, "SELECT pg_create_logical_replication_slot('s_down', 'wal2json')");
    const file = join(dir, 'down.jsonl');
    const stats = join(dir, 'down.json');
    const { done } = stream('s_down', file, '--stats-json', stats, '--drop-slot');
    await activePid('s_down');
    // pg_ctl as the user the server runs as (the harness runs it as postgres when we are root).
    const pgCtl = [join(c.info.binDir, 'pg_ctl'), '-D', c.info.dataDir, '-m', 'fast', '-w', 'stop'];
    const [cmd, ...args] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...pgCtl] : pgCtl;
    const stop = spawnSync(cmd as string, args, { encoding: 'utf8', timeout: 60_000 });
    assert.equal(stop.status, 0, stop.stderr);
    const r = await done;
    assertOneLine(r, 1, ONE_LINE_END);
    assert.match(r.stderr, /the server ended the replication stream/);
    assert.equal((JSON.parse(readFileSync(stats, 'utf8')) as Record<string, unknown>).stopped_by, 'server');
  });
});

describe('walduck stream against a scripted server', () => {
  /** Trust startup, IDENTIFY_SYSTEM answered, START_REPLICATION answered, one XLogData; then `end`. */
  async function serve(end: (peer: Peer) => Promise<void>): Promise<FakeServer> {
    const s = await fakeServer(
      trustServer(async (peer) => {
        await peer.read(); // IDENTIFY_SYSTEM
        peer.send(
          R({ type: 'RowDescription', fields: ['systemid', 'timeline', 'xlogpos', 'dbname'].map(textField) }),
          R({
            type: 'DataRow',
            values: [Buffer.from('7301'), Buffer.from('1'), Buffer.from('0/100'), Buffer.from('db')],
          }),
          R({ type: 'CommandComplete', tag: 'IDENTIFY_SYSTEM' }),
          R({ type: 'ReadyForQuery', status: 'I' }),
        );
        await peer.read(); // START_REPLICATION
        peer.send(
          R({ type: 'CopyBothResponse', format: 0, columnFormats: [] }),
          encodeCopyData({
            type: 'CopyData',
            data: encodeXLogData({
              type: 'XLogData',
              dataStart: 0x100n,
              walEnd: 0x100n,
              serverTime: 0n,
              data: Buffer.from('{"action":"M"}'),
            }),
          }),
        );
        await end(peer);
      }),
    );
    servers.push(s);
    return s;
  }
  const run = (s: FakeServer, ...extra: string[]) =>
    runWalduck(
      [
        'stream',
        '-d',
        `host=127.0.0.1 port=${s.port} user=alice dbname=db sslmode=disable`,
        '-S',
        's',
        ...extra,
      ],
      { PGPASSWORD: '', PGHOST: '', PGPORT: '', PGUSER: '', PGDATABASE: '' },
    );

  it('a CopyDone from the server before --endpos is exit 1 with one line; the data came out', async () => {
    const s = await serve(async (peer) => {
      peer.send(R({ type: 'CopyDone' }));
      for (let f = await peer.read(); f.tag !== 0x63; f = await peer.read()) {} // up to our CopyDone
      peer.send(
        R({ type: 'CommandComplete', tag: 'START_REPLICATION' }),
        R({ type: 'ReadyForQuery', status: 'I' }),
      );
      await peer.read().catch(() => undefined); // Terminate
    });
    const r = await run(s, '--endpos', '0/200', '--progress-interval', '0');
    assertOneLine(r, 1, ONE_LINE_END);
    assert.match(
      r.stderr,
      /the server ended the replication stream.*up to 0\/100, short of --endpos 0\/200$/m,
    );
    assert.equal(r.stdout, '{"action":"M"}\n');
  });

  it('a connection closed without a word is exit 1 with one line', async () => {
    const s = await serve(async (peer) => {
      // Wait until the client has read and written the XLogData (its status update says so), then go.
      for (let f = await peer.read(); f.tag !== 0x64; f = await peer.read()) {}
      peer.socket.destroy();
    });
    const r = await run(s, '--progress-interval', '0', '--status-interval', '1');
    assertOneLine(r, 1, ONE_LINE_END);
    assert.match(r.stderr, /closed the connection unexpectedly/);
    assert.equal(r.stdout, '{"action":"M"}\n');
  });
});
