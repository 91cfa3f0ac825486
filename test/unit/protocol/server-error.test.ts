// The advice a PgServerError carries, one case per line of advice: chosen by the SQLSTATE *and* what
// was being done (phase, command, the server's message), so that one SQLSTATE can mean two things.
// Messages are PostgreSQL's own texts for these failures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Phase } from '../../../src/protocol/errors.js';
import type { NoticeFields } from '../../../src/protocol/messages/backend/notice-fields.js';
import { commandOf, type ErrorContext, PgServerError } from '../../../src/protocol/server-error.js';

function advice(
  phase: Phase,
  sqlstate: string,
  message: string,
  context: ErrorContext = {},
  extra: Partial<NoticeFields> = {},
): string | undefined {
  return new PgServerError(phase, { severity: 'ERROR', sqlstate, message, ...extra }, context).advice;
}

describe('advice by SQLSTATE and context', () => {
  it('28P01: names the user and where the password came from', () => {
    const a = advice('auth', '28P01', 'password authentication failed for user "alice"', {
      user: 'alice',
      passwordSource: 'PGPASSWORD environment variable',
    });
    assert.match(a ?? '', /password for user "alice" is wrong \(the password came from the PGPASSWORD/);
    // Without context the user comes from the server's message.
    assert.match(advice('auth', '28P01', 'password authentication failed for user "bob"') ?? '', /"bob"/);
  });

  it('28000: a missing pg_hba.conf line, and nothing for another 28000', () => {
    assert.match(
      advice(
        'startup',
        '28000',
        'no pg_hba.conf entry for host "10.0.0.1", user "u", database "d", no encryption',
      ) ?? '',
      /add a line to the server's pg_hba\.conf .* by the database name/,
    );
    assert.equal(advice('startup', '28000', 'role "nobody" is not permitted to log in'), undefined);
  });

  it('55006: the slot is held by a PID (which to end), or by an unnamed process', () => {
    assert.match(
      advice('stream', '55006', 'replication slot "s" is active for PID 4242') ?? '',
      /PID 4242\) is consuming this slot: .*pg_terminate_backend\(4242\)/,
    );
    assert.match(advice('command', '55006', 'object in use') ?? '', /in use by another process/);
  });

  it('42704: a missing slot when streaming is to be created; when dropping there is nothing to drop', () => {
    const msg = 'replication slot "s" does not exist';
    assert.match(
      advice('command', '42704', msg, { command: 'START_REPLICATION' }) ?? '',
      /create the slot first/,
    );
    assert.match(
      advice('command', '42704', msg, { command: 'DROP_REPLICATION_SLOT' }) ?? '',
      /nothing to drop/,
    );
    assert.equal(advice('command', '42704', 'type "nope" does not exist', { command: 'SELECT' }), undefined);
  });

  it('42710: the slot exists already', () => {
    assert.match(
      advice('command', '42710', 'replication slot "s" already exists', {
        command: 'CREATE_REPLICATION_SLOT',
      }) ?? '',
      /exists already: reuse it, or drop it first/,
    );
  });

  it('53400: out of slots, or out of WAL senders; no advice for other limits', () => {
    assert.match(
      advice('command', '53400', 'all replication slots are in use') ?? '',
      /max_replication_slots/,
    );
    assert.match(
      advice(
        'startup',
        '53400',
        'number of requested standby connections exceeds max_wal_senders (currently 10)',
      ) ?? '',
      /raise max_wal_senders/,
    );
    assert.equal(advice('command', '53400', 'too many range table entries'), undefined);
  });

  it('42501 while starting a walsender or on a replication command: the REPLICATION attribute', () => {
    const replication = /role "app" needs the REPLICATION attribute: ALTER ROLE "app" WITH REPLICATION/;
    assert.match(
      advice('startup', '42501', 'must be superuser or replication role to start walsender', {
        user: 'app',
      }) ?? '',
      replication,
    );
    assert.match(
      advice('command', '42501', 'permission denied to create replication slot', {
        user: 'app',
        command: 'CREATE_REPLICATION_SLOT',
      }) ?? '',
      replication,
    );
  });

  it('42501 on a table SELECT or COPY: a grant on the table, not REPLICATION', () => {
    for (const command of ['SELECT', 'COPY']) {
      const a = advice('command', '42501', 'permission denied for table orders', { user: 'app', command });
      assert.match(a ?? '', /role "app" may not read table orders: GRANT SELECT ON orders TO "app"/);
      assert.doesNotMatch(a ?? '', /REPLICATION/);
    }
  });

  it('42501 on a schema: USAGE on it', () => {
    assert.match(
      advice('command', '42501', 'permission denied for schema private', {
        user: 'app',
        command: 'SELECT',
      }) ?? '',
      /GRANT USAGE ON SCHEMA private TO "app"/,
    );
  });

  it('42501 on anything else: no guess', () => {
    assert.equal(
      advice('command', '42501', 'permission denied for function pg_read_file', { command: 'SELECT' }),
      undefined,
    );
  });

  it('58P01/42883: wal2json not installed, with the package for the server major version', () => {
    assert.match(
      advice('command', '58P01', 'could not access file "wal2json": No such file or directory', {
        serverVersion: '15.4 (Debian 15.4-1)',
        command: 'CREATE_REPLICATION_SLOT',
      }) ?? '',
      /apt-get install postgresql-15-wal2json/,
    );
    assert.equal(advice('command', '58P01', 'could not open directory "x"'), undefined);
  });

  it('55000: wal_level is not logical', () => {
    assert.match(
      advice('command', '55000', 'logical decoding requires wal_level >= logical', {
        command: 'CREATE_REPLICATION_SLOT',
      }) ?? '',
      /wal_level = logical/,
    );
    assert.equal(advice('command', '55000', 'cannot execute in this state'), undefined);
  });

  it('the advice is part of the message; code is the SQLSTATE and every field is kept', () => {
    const e = new PgServerError(
      'command',
      {
        severity: 'ERROR',
        sqlstate: '55006',
        message: 'replication slot "s" is active for PID 7',
        detail: 'd',
        hint: 'h',
      },
      {},
    );
    assert.equal(e.code, '55006');
    assert.equal(e.sqlstate, '55006');
    assert.equal(e.severity, 'ERROR');
    assert.equal(e.serverMessage, 'replication slot "s" is active for PID 7');
    assert.equal(e.detail, 'd');
    assert.equal(e.hint, 'h');
    assert.equal(e.phase, 'command');
    assert.match(e.message, /DETAIL: d\nHINT: h\nWhat to do: another process \(PID 7\)/);
  });
});

it('commandOf takes the first word of a statement, past blanks, comments and parentheses', () => {
  assert.equal(commandOf('  select 1'), 'SELECT');
  assert.equal(commandOf('-- why\n/* note */ (SELECT 1)'), 'SELECT');
  assert.equal(commandOf('CREATE_REPLICATION_SLOT "s" LOGICAL wal2json'), 'CREATE_REPLICATION_SLOT');
  assert.equal(commandOf(''), '');
});
