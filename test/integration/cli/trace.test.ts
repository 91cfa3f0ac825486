// walduck trace: the message sequence of a session, in order, and never a secret in the output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuthMethod, conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { runWalduck } from '../../helpers/walduck.js';
import { assertOneLine } from './usage.js';

/** "> Query" / "< XLogData" per traced line (notes and hex lines skipped). */
function messages(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => /^[<>] /.test(l))
    .map((l) => l.split(' (')[0] ?? '');
}

/** Whether `want` occurs in `got` in this order (other messages may come between). */
function inOrder(got: readonly string[], want: readonly string[]): boolean {
  let i = 0;
  for (const m of got) if (m === want[i]) i++;
  return i === want.length;
}

describe('walduck trace', () => {
  const c = useCluster();

  it('shows a whole SCRAM session in order: startup, auth, commands, stream, clean stop', async () => {
    const r = await runWalduck(['trace', '-d', conninfo(c.info, 'scram-sha-256'), '--duration', '1']);
    assert.equal(r.code, 0, r.stderr);
    const seq = messages(r.stdout);
    const expected = [
      '> StartupMessage',
      '< AuthenticationSASL',
      '> SASLInitialResponse',
      '< AuthenticationSASLContinue',
      '> SASLResponse',
      '< AuthenticationSASLFinal',
      '< AuthenticationOk',
      '< BackendKeyData',
      '< ReadyForQuery',
      '> Query',
      '< RowDescription',
      '< DataRow',
      '< CommandComplete',
      '< ReadyForQuery',
      '> Query',
      '< CommandComplete',
      '< ReadyForQuery',
      '> Query',
      '< CopyBothResponse',
      '< XLogData',
      '> StandbyStatusUpdate',
      '> CopyDone',
      '< CopyDone',
      '< CommandComplete',
      '< ReadyForQuery',
      '> Terminate',
    ];
    assert.ok(inOrder(seq, expected), `sequence:\n${seq.join('\n')}`);
    assert.equal(seq.at(-1), '> Terminate');
    assert.match(r.stdout, /^> Query \(\d+\) sql="IDENTIFY_SYSTEM" {2}# /m);
    assert.match(
      r.stdout,
      /^> Query \(\d+\) sql="CREATE_REPLICATION_SLOT \\"walduck_trace_\d+\\" TEMPORARY LOGICAL/m,
    );
    assert.match(r.stdout, /^< XLogData \(\d+\) dataStart=\d+\/[0-9A-F]+ .*\\"action\\":\\"M\\"/m);
    // Every traced line carries its length and a one-line explanation.
    for (const line of r.stdout.split('\n').filter((l) => /^[<>] /.test(l))) {
      assert.match(line, /^[<>] \w+ \(\d+\).* {2}# \S/, line);
    }
    // The temporary slot went with the session.
    assert.equal(
      psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'walduck_trace_%'"),
      '0',
    );
  });

  for (const method of ['password', 'md5', 'scram-sha-256'] as AuthMethod[]) {
    it(`never shows the ${method} password, its hash, the SCRAM proof or the cancel key, even with --hex`, async () => {
      const password = c.info.roles[method].password;
      // Over TLS too (md5 and SCRAM): what is traced is the plaintext inside, so it must be redacted.
      for (const sslmode of method === 'password' ? ['disable'] : ['require']) {
        const r = await runWalduck([
          'trace',
          '-d',
          conninfo(c.info, method, { sslmode }),
          '--messages',
          '3',
          '--hex',
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), 'password in the output');
        assert.ok(!r.stdout.includes(Buffer.from(password).toString('hex').slice(0, 16)), 'password in hex');
        assert.match(r.stdout, /BackendKeyData \(\d+\) pid=\d+ secretKey="\[redacted\]"/);
        if (method === 'scram-sha-256')
          assert.match(r.stdout, /SASLResponse .*p=\[redacted\]|SASLResponse .*…/);
        else {
          assert.match(r.stdout, /^> PasswordMessage \(\d+\) password="\[redacted\]"/m);
          // No bytes are dumped for it (the line after is the next message, not a hex line).
          const after =
            r.stdout.split('\n')[
              r.stdout.split('\n').findIndex((l) => l.startsWith('> PasswordMessage')) + 1
            ];
          assert.match(after ?? '', /^< /);
        }
      }
    });
  }

  it('follows a given slot without acknowledging anything on it', async () => {
    psql(c.info, "SELECT pg_create_logical_replication_slot('watched', 'wal2json')");
    psql(c.info, 'CREATE TABLE tr (id int PRIMARY KEY); INSERT INTO tr VALUES (1), (2)');
    const before = psql(
      c.info,
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'watched'",
    );
    const endpos = psql(c.info, 'SELECT pg_current_wal_lsn()');
    const r = await runWalduck([
      'trace',
      '-d',
      conninfo(c.info, 'trust'),
      '-S',
      'watched',
      '--endpos',
      endpos,
      '-o',
      'format-version=2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /< XLogData .*\\"action\\":\\"I\\".*\\"table\\":\\"tr\\"/);
    assert.equal(
      psql(c.info, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'watched'"),
      before,
    );
  });

  it('usage errors exit 2 with one line', async () => {
    assertOneLine(await runWalduck(['trace', '--endpos', 'x']), 2, /not an LSN/);
    assertOneLine(await runWalduck(['trace', '--messages', '0']), 2, /--messages/);
    assertOneLine(await runWalduck(['trace', '-S', 'BAD']), 2, /not valid/);
  });
});
