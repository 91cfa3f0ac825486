// walduck resync --duckdb FILE --table T [--slot NAME]: asks for an online copy of one table (README
// "Online copy"). The file is held by a running `walduck replicate` (DuckDB allows one writer process),
// so the request is recorded in the file, and the next `walduck replicate` performs the copy while the
// other tables stream. With a replicator running, resync stops with one line saying what to do.
import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import { stateTableExists } from '../../sink/checkpoint.js';
import { withDuckDb } from '../../sink/duckdb-file.js';
import { DuckFileError } from '../../sink/errors.js';
import { readRecorded, toSourceTable } from '../../sink/source-schema.js';
import { requestResync, TableSetError } from '../../sink/table-records.js';
import { keyOrderProblem } from '../../source/key-order.js';
import { shownName } from '../../wal2json/shown-name.js';
import { tableOption } from '../options.js';

export function resyncCommand(y: Argv): Argv {
  return y.command(
    'resync',
    'copy one table of a replica again, online, at the next walduck replicate',
    (a) =>
      a
        .option('duckdb', { type: 'string', demandOption: true, describe: 'a walduck DuckDB file' })
        .option('table', { type: 'string', demandOption: true, describe: 'the source table, schema.table' })
        .option('slot', { type: 'string', describe: 'the slot, when the file follows several' })
        .example('$0 resync --duckdb shop.duckdb --table public.orders', 're-copy orders online'),
    async (args) => {
      const table = tableOption('--table', args.table);
      // Opened for writing, DuckDB would create a missing file, and the request would add walduck's
      // tables to a DuckDB file that is no replica: both are refused before anything is written.
      if (!existsSync(args.duckdb))
        throw new DuckFileError('WALDUCK_DUCKDB_OPEN', `DuckDB file ${args.duckdb} does not exist`);
      const slot = await withDuckDb(args.duckdb, false, async (_q, conn) => {
        if (!(await stateTableExists(conn)))
          throw new DuckFileError(
            'WALDUCK_DUCKDB_NOT_REPLICA',
            `${args.duckdb} has no walduck.state table: it is not a walduck replica`,
          );
        // The copy reads the table in key order; a key it cannot order (as recorded) would stop every
        // later replicate of the file at start, with the request recorded and no way to take it back.
        // Checked once the table is known to be followed (its schema is then recorded), and a
        // schema that cannot be read stops resync rather than skip the check.
        return requestResync(conn, table, args.slot, async () => {
          const rec = await readRecorded(conn, table.schema, table.table);
          const problem = rec && keyOrderProblem(toSourceTable(rec));
          if (problem)
            throw new TableSetError(
              'WALDUCK_RESYNC_TABLE',
              `${shownName(table)} cannot be copied online, so nothing was recorded: ${problem}`,
            );
        });
      }).catch((err: unknown) => {
        if (err instanceof DuckFileError && err.code === 'WALDUCK_DUCKDB_LOCKED')
          throw new DuckFileError(
            'WALDUCK_DUCKDB_LOCKED',
            `${args.duckdb} is held by a running walduck replicate (or another process): stop it, run walduck resync again, then start walduck replicate, which copies ${shownName(table)} online`,
            { cause: err },
          );
        throw err;
      });
      process.stdout.write(
        `${shownName(table)} will be copied again online (slot ${slot}) by the next walduck replicate; walduck status shows it as copying until then\n`,
      );
    },
  );
}
