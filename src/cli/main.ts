// The walduck command line. The only place that imports yargs; wires `debug` logging.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

await yargs(hideBin(process.argv))
  .scriptName('walduck')
  .usage('$0 <command> [options]')
  .demandCommand(1, 'name a command')
  .strict()
  .help()
  .parseAsync();
