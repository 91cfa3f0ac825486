// Logging: `debug` namespaces (DEBUG=walduck:* to see them). Warnings always reach stderr.
import createDebug from 'debug';

export const log = {
  protocol: createDebug('walduck:protocol'),
  wal2json: createDebug('walduck:wal2json'),
  sink: createDebug('walduck:sink'),
  replicate: createDebug('walduck:replicate'),
  verify: createDebug('walduck:verify'),
};

export function warn(msg: string): void {
  process.stderr.write(`walduck: warning: ${oneLine(msg)}\n`);
}

/** Worth a line on stderr although not a warning (e.g. a warned-about condition is over). */
export function notice(msg: string): void {
  process.stderr.write(`walduck: ${oneLine(msg)}\n`);
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
