// The bench starts pg_recvlogical, walduck and the decode-only probe as child processes. A password
// in their command line is readable by every local user (ps, /proc/PID/cmdline) for as long as they
// run, so it travels in the environment (PGPASSWORD, which libpq and walduck both read) instead.

import { parseConninfo, parseUrl } from '../protocol/config.js';

export interface ChildSource {
  /** The connection string without its password, as a libpq key=value conninfo. */
  readonly source: string;
  /** The environment for the child, with PGPASSWORD set when the string held a password. */
  readonly env: NodeJS.ProcessEnv;
}

export function passwordToEnv(source: string, env: NodeJS.ProcessEnv): ChildSource {
  const text = source.trim();
  let given: Map<string, string>;
  if (/^postgres(?:ql)?:\/\//.test(text)) given = parseUrl(text);
  else if (text.includes('=')) given = parseConninfo(text);
  else given = new Map(text ? [['dbname', text]] : []);
  const password = given.get('password');
  given.delete('password');
  const conninfo = [...given]
    .map(([k, v]) => `${k}='${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`)
    .join(' ');
  return { source: conninfo, env: password ? { ...env, PGPASSWORD: password } : { ...env } };
}
