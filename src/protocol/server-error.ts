// ErrorResponse as an exception: every field the server sent, plus a sentence saying what to do for
// the failures people actually hit when setting up logical replication.

import { type Phase, WalduckProtocolError } from './errors.js';
import type { NoticeFields } from './messages/backend/notice-fields.js';

export interface ErrorContext {
  readonly user?: string;
  readonly passwordSource?: string | undefined;
  /** server_version from ParameterStatus, for the package name of the plugin to install. */
  readonly serverVersion?: string | undefined;
}

export class PgServerError extends WalduckProtocolError {
  override readonly name = 'PgServerError';
  /** The SQLSTATE, e.g. "28P01"; also in `sqlstate`. */
  readonly code: string;
  readonly fields: NoticeFields;
  readonly severity: string;
  readonly sqlstate: string;
  /** The server's message text as sent (`message` adds context and advice). */
  readonly serverMessage: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: string | undefined;
  readonly where: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly dataType: string | undefined;
  readonly constraint: string | undefined;
  readonly file: string | undefined;
  readonly line: string | undefined;
  readonly routine: string | undefined;
  /** What to do about it, when we know; also appended to `message`. */
  readonly advice: string | undefined;

  constructor(phase: Phase, fields: NoticeFields, context: ErrorContext = {}) {
    const advice = adviceFor(fields, context);
    const parts = [`${fields.severity} ${fields.sqlstate}: ${fields.message}`];
    if (fields.detail) parts.push(`DETAIL: ${fields.detail}`);
    if (fields.hint) parts.push(`HINT: ${fields.hint}`);
    if (advice) parts.push(`What to do: ${advice}`);
    super(phase, parts.join('\n'));
    this.code = fields.sqlstate;
    this.fields = fields;
    this.severity = fields.severity;
    this.sqlstate = fields.sqlstate;
    this.serverMessage = fields.message;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.where = fields.where;
    this.schema = fields.schema;
    this.table = fields.table;
    this.column = fields.column;
    this.dataType = fields.dataType;
    this.constraint = fields.constraint;
    this.file = fields.file;
    this.line = fields.line;
    this.routine = fields.routine;
    this.advice = advice;
  }
}

function major(serverVersion: string | undefined): string {
  return /^(\d+)/.exec(serverVersion ?? '')?.[1] ?? 'NN';
}

function adviceFor(f: NoticeFields, ctx: ErrorContext): string | undefined {
  const msg = f.message;
  switch (f.sqlstate) {
    case '28P01': {
      const user = ctx.user ?? /user "([^"]*)"/.exec(msg)?.[1] ?? '?';
      const from = ctx.passwordSource ? ` (the password came from the ${ctx.passwordSource})` : '';
      return `the password for user "${user}" is wrong${from}: fix it in the connection string, PGPASSWORD or ~/.pgpass.`;
    }
    case '28000':
      if (/pg_hba\.conf/.test(msg)) {
        return 'add a line to the server\'s pg_hba.conf for this host and user; a logical replication connection matches the DATABASE column by the database name (not "replication"), then reload the server.';
      }
      return undefined;
    case '55006': {
      const pid = /PID (\d+)/.exec(msg)?.[1];
      return pid
        ? `another process (PID ${pid}) is consuming this slot: stop it, or end it with SELECT pg_terminate_backend(${pid}).`
        : 'the slot or object is in use by another process: stop that process first.';
    }
    case '42704':
      if (/replication slot/.test(msg))
        return 'create the slot first (or check its name: slot names are lower case).';
      return undefined;
    case '42710':
      if (/replication slot/.test(msg))
        return 'the slot exists already: reuse it, or drop it first (DROP_REPLICATION_SLOT).';
      return undefined;
    case '53400':
      return 'raise max_replication_slots / max_wal_senders in postgresql.conf (needs a restart), or drop unused slots.';
    case '42501':
      return 'the user needs the REPLICATION attribute: ALTER ROLE ... WITH REPLICATION (as a superuser).';
    case '58P01':
    case '58P02':
    case '42883':
      if (/wal2json/.test(msg) || /output plugin|could not access file/.test(msg)) {
        return `the output plugin is not installed on the server: install it there (Debian/Ubuntu: apt-get install postgresql-${major(ctx.serverVersion)}-wal2json).`;
      }
      return undefined;
    case '55000':
      if (/wal_level/.test(msg)) {
        return 'set wal_level = logical on the server (ALTER SYSTEM SET wal_level = logical; as a superuser) and restart it.';
      }
      return undefined;
    default:
      return undefined;
  }
}
