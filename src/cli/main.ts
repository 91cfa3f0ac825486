// The walduck command line: the only place that imports yargs, and where `debug` is wired.
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
  .version()
  .fail((msg, err) => {
    if (err) fail(err);
    process.stderr.write(`walduck: usage: ${oneLine(msg ?? 'invalid arguments')} (see walduck --help)\n`);
    process.exit(EXIT_USAGE);
  });

demoCommand(cli);
replicateCommand(cli);
resyncCommand(cli);
benchCommand(cli);
slotCommand(cli);
statusCommand(cli);
streamCommand(cli);
traceCommand(cli);
verifyCommand(cli);

try {
  await cli.parseAsync();
} catch (err) {
  fail(err);
}
