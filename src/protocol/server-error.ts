// ErrorResponse as an exception: every field the server sent, plus a sentence saying what to do for
// the failures people actually hit when setting up logical replication.

import { type Phase, WalduckProtocolError } from './errors.js';
import type { NoticeFields } from './messages/backend/notice-fields.js';

export interface ErrorContext {
  readonly user?: string;
  readonly passwordSource?: string | undefined;
  /** server_version from ParameterStatus, for the package name of the plugin to install. */
  readonly serverVersion?: string | undefined;
  /**
   * What was asked when the server refused: the statement's first word, upper case ("SELECT", "COPY",
   * "CREATE_REPLICATION_SLOT", "START_REPLICATION"). The same SQLSTATE needs other advice per command:
   * 42501 while starting a walsender means a missing REPLICATION attribute, on a SELECT a missing grant.
   */
  readonly command?: string | undefined;
}

/** The first word of a statement, upper case (leading blanks, comments and parentheses skipped). */
export function commandOf(sql: string): string {
  const text = sql.replace(/^(?:\s|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*/, '');
  return (/^[A-Za-z_]+/.exec(text)?.[0] ?? '').toUpperCase();
}

/** Commands of the replication protocol (a walsender's own grammar), which need REPLICATION. */
const REPLICATION_COMMANDS = new Set([
  'IDENTIFY_SYSTEM',
  'CREATE_REPLICATION_SLOT',
  'DROP_REPLICATION_SLOT',
  'READ_REPLICATION_SLOT',
  'ALTER_REPLICATION_SLOT',
  'START_REPLICATION',
  'TIMELINE_HISTORY',
  'BASE_BACKUP',
]);

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
    const advice = adviceFor(phase, fields, context);
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

function adviceFor(phase: Phase, f: NoticeFields, ctx: ErrorContext): string | undefined {
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
      if (!/replication slot/.test(msg)) return undefined;
      return ctx.command === 'DROP_REPLICATION_SLOT'
        ? 'there is no such slot, so nothing to drop (check its name: slot names are lower case).'
        : 'create the slot first (or check its name: slot names are lower case).';
    case '42710':
      if (/replication slot/.test(msg))
        return 'the slot exists already: reuse it, or drop it first (DROP_REPLICATION_SLOT).';
      return undefined;
    case '53400':
      // configuration_limit_exceeded covers other limits too: advise only on the two replication ones.
      if (/replication slots/.test(msg))
        return 'every replication slot is taken: drop unused slots, or raise max_replication_slots in postgresql.conf (needs a restart).';
      if (/max_wal_senders|WAL sender/i.test(msg))
        return 'every WAL sender is busy: stop another replication client, or raise max_wal_senders in postgresql.conf (needs a restart).';
      return undefined;
    case '42501':
      return insufficientPrivilege(phase, msg, ctx);
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

/**
 * 42501 names no privilege by itself: starting a walsender or running a replication command needs the
 * REPLICATION attribute; reading a table (the catalog read, the snapshot's COPY) needs SELECT on it
 * and USAGE on its schema. Anything else: the server's message says enough.
 */
function insufficientPrivilege(phase: Phase, msg: string, ctx: ErrorContext): string | undefined {
  const user = ctx.user === undefined ? 'the role' : `role "${ctx.user}"`;
  const grantee = ctx.user === undefined ? '...' : `"${ctx.user.replaceAll('"', '""')}"`;
  const object = /permission denied for (table|relation|view|materialized view|sequence) (.+)$/.exec(msg);
  if (object) {
    return `${user} may not read ${object[1]} ${object[2]}: GRANT SELECT ON ${object[2]} TO ${grantee}; (as its owner or a superuser), or replicate without that table.`;
  }
  const schema = /permission denied for schema (.+)$/.exec(msg);
  if (schema) {
    return `${user} may not use schema ${schema[1]}: GRANT USAGE ON SCHEMA ${schema[1]} TO ${grantee}; (as its owner or a superuser).`;
  }
  const walsender =
    phase === 'startup' ||
    phase === 'auth' ||
    phase === 'stream' ||
    REPLICATION_COMMANDS.has(ctx.command ?? '') ||
    /replication|WAL sender|walsender/i.test(msg);
  if (walsender) {
    return `${user} needs the REPLICATION attribute: ALTER ROLE ${grantee} WITH REPLICATION; (as a superuser).`;
  }
  return undefined;
}
