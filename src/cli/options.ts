// Options shared by the hand-run commands, named as pg_recvlogical names them, so that a PostgreSQL
// user's fingers already know them: -d/--dbname (a conninfo or URL, as libpq expands it), -h, -p, -U,
// -S/--slot, --startpos, --endpos, -o/--option NAME[=VALUE].
import type { Argv } from 'yargs';
import { parseConninfo, parseUrl, settingsFrom } from '../protocol/config.js';
import type { ConnectionSettings, PluginOption } from '../protocol/index.js';
import { type Lsn, parseLsn } from '../protocol/lsn.js';
import { CatalogError } from '../source/catalog.js';
import { slotNameProblem } from '../source/slot.js';
import { parseTableList, parseTableName } from '../source/table-name.js';
import type { TableRef } from '../wal2json/change.js';
import { UsageError } from './errors.js';

export interface ConnectionArgs {
  readonly dbname?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | number | undefined;
  readonly username?: string | undefined;
}

export function withConnection<T>(y: Argv<T>) {
  return y
    .option('dbname', {
      alias: 'd',
      type: 'string',
      describe: 'database name, or a libpq conninfo / postgres:// URL (PG* variables fill the gaps)',
    })
    .option('host', {
      alias: 'h',
      type: 'string',
      describe: 'server host or unix-socket directory (overrides the one in -d)',
    })
    .option('port', { alias: 'p', type: 'string', describe: 'server port (overrides the one in -d)' })
    .option('username', {
      alias: 'U',
      type: 'string',
      describe: 'user name (overrides the one in -d)',
    })
    .group(['dbname', 'host', 'port', 'username'], 'Connection:');
}

/**
 * libpq's rule for pg_recvlogical: -d is expanded as a conninfo or URL, and -h/-p/-U given beside it
 * override what it says. The PG* environment fills whatever is still missing.
 */
export function connectionSettings(
  a: ConnectionArgs,
  env: NodeJS.ProcessEnv = process.env,
): ConnectionSettings {
  const text = (a.dbname ?? '').trim();
  const keys = /^postgres(?:ql)?:\/\//.test(text)
    ? parseUrl(text)
    : text.includes('=')
      ? parseConninfo(text)
      : new Map(text ? [['dbname', text]] : []);
  if (a.host !== undefined) keys.set('host', a.host);
  if (a.port !== undefined) keys.set('port', String(a.port));
  if (a.username !== undefined) keys.set('user', a.username);
  return settingsFrom(keys, env);
}

/**
 * --tables, else TABLE_NAME; undefined: every table. A --tables that names none (`--tables ''`, a
 * script's empty variable) is refused rather than read as every table; so is a TABLE_NAME of only
 * commas, and an empty TABLE_NAME counts as unset.
 */
export function chosenTables(flag: string | undefined): TableRef[] | undefined {
  if (flag !== undefined) {
    const tables = asUsage('--tables', () => parseTableList(flag));
    if (tables.length === 0)
      throw new UsageError(
        '--tables names no table: leave it out to follow every table with a key, or name at least one',
      );
    return tables;
  }
  const env = process.env.TABLE_NAME;
  if (env === undefined || env.trim() === '') return undefined;
  const tables = asUsage('TABLE_NAME', () => parseTableList(env));
  if (tables.length === 0)
    throw new UsageError(
      `TABLE_NAME ${JSON.stringify(env)} names no table: unset it to follow every table with a key, or name at least one`,
    );
  return tables;
}

/** One table named on the command line (`resync --table`), as --tables reads each of its names. */
export function tableOption(option: string, text: string): TableRef {
  return asUsage(option, () => parseTableName(text));
}

/** A name that cannot be read is the command line's fault: exit 2 naming the option, not a failure. */
function asUsage<T>(option: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof CatalogError) throw new UsageError(`${option}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** A slot name given on the command line, checked by the server's rule (source/slot.ts). */
export function slotName(name: string | undefined, option = '--slot'): string {
  if (name === undefined || name === '') throw new UsageError(`name the replication slot with ${option}`);
  const problem = slotNameProblem(name);
  if (problem !== undefined) throw new UsageError(problem);
  return name;
}

export function lsnOption(name: string, text: string | undefined): Lsn | undefined {
  if (text === undefined) return undefined;
  const lsn = parseLsn(text);
  if (lsn === undefined)
    throw new UsageError(`--${name} ${JSON.stringify(text)} is not an LSN like 0/16B3748`);
  return lsn;
}

/**
 * -o NAME[=VALUE], repeatable: the output plugin's options in the order given. As in pg_recvlogical,
 * NAME alone is sent without a value (null), and NAME= with an empty one; the name may not be empty.
 */
export function pluginOptions(list: readonly (string | number)[] | string | undefined): PluginOption[] {
  const items = list === undefined ? [] : Array.isArray(list) ? list : [list];
  return items.map((item) => {
    const s = String(item);
    const eq = s.indexOf('=');
    if (eq === 0 || s === '') {
      throw new UsageError(`-o ${JSON.stringify(s)}: write the plugin option as NAME or NAME=VALUE`);
    }
    return eq < 0 ? [s, null] : [s.slice(0, eq), s.slice(eq + 1)];
  });
}

/** A whole number option that must be positive (or zero when `zero` says so). */
export function wholeNumber(name: string, v: number | undefined, zero = false): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < (zero ? 0 : 1)) {
    throw new UsageError(`--${name} must be a ${zero ? 'non-negative' : 'positive'} whole number`);
  }
  return v;
}
