// The walduck command line: the only place that imports yargs, and where `debug` is wired.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { replicateCommand } from './commands/replicate.js';
import { resyncCommand } from './commands/resync.js';
import { slotCommand } from './commands/slot.js';
import { statusCommand } from './commands/status.js';
import { streamCommand } from './commands/stream.js';
import { traceCommand } from './commands/trace.js';
import { verifyCommand } from './commands/verify.js';
import { EXIT_USAGE, fail, setDebugValues } from './errors.js';
import { oneLine } from './log.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('walduck')
  // walduck speaks English in every line it prints; yargs' headings too (the bundle carries no locale
  // files, so the two would differ otherwise).
  .locale('en')
  .usage('$0 <command> [options]')
  .demandCommand(1, 'name a command (see walduck --help)')
  .strict()
  // -h is the server host, as in every PostgreSQL tool; help is --help.
  .option('debug-values', {
    type: 'boolean',
    global: true,
    default: false,
    describe: 'show the row data around a value that cannot be decoded (off: errors say where, not what)',
  })
  .middleware((argv) => setDebugValues(argv['debug-values'] === true))
  .help()
  .version(ownVersion())
  .fail((msg, err) => {
    if (err) fail(err);
    process.stderr.write(`walduck: usage: ${oneLine(msg ?? 'invalid arguments')} (see walduck --help)\n`);
    process.exit(EXIT_USAGE);
  });

skipHelpCache(cli);
demoCommand(cli);
replicateCommand(cli);
resyncCommand(cli);
benchCommand(cli);
slotCommand(cli);
statusCommand(cli);
streamCommand(cli);
traceCommand(cli);
verifyCommand(cli);

/**
 * walduck's version, from the package.json above this file: dist/src/cli/main.js and the bundle
 * dist/src/walduck.mjs sit at different depths below it. yargs' own lookup starts from where yargs
 * is: inlined in the bundle, that is the bundle's folder, and it found the caller's working
 * directory's package.json instead.
 */
function ownVersion(): string {
  for (let up = '../'; up.length <= 12; up += '../') {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'walduck' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not at this depth.
    }
  }
  return 'unknown';
}

/**
 * yargs renders the whole help of a command each time that command runs, and keeps it in case a
 * handler calls showHelp(): measuring every option text's width cost ~0.15 s of each run's start-up
 * (string-width on the long option descriptions), and a bench run of a few seconds pays it too.
 * walduck never shows help once a command started (failures are one line, see .fail above), and
 * `--help` renders its own text when asked, so the cached copy is never read: skip making it. The hook
 * is yargs-internal; without it this does nothing and runs are only slower.
 */
function skipHelpCache(argv: object): void {
  type Usage = { cacheHelpMessage?: () => void };
  const internal = argv as { getInternalMethods?: () => { getUsageInstance?: () => Usage } };
  const usage = internal.getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

try {
  await cli.parseAsync();
} catch (err) {
  fail(err);
}
// The command is done: exit once stdout and stderr have handed everything to the OS (to a pipe they
// write asynchronously on POSIX, and process.exit drops what is still queued), rather than when
// Node's exit-time cleanup has waited for every handle: after DuckDB use that wait was once seen to
// spin at 100% CPU without end (CI, stop 28), which would leave a finished replicate running.
await Promise.all(
  [process.stdout, process.stderr].map(
    (s) => new Promise<void>((resolve) => (s.writableLength > 0 ? s.write('', () => resolve()) : resolve())),
  ),
);
process.exit(process.exitCode ?? 0);
