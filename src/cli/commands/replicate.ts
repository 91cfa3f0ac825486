// walduck replicate --source CONNINFO --duckdb FILE --tables schema.table[,…] [--slot NAME]
//   [--format-version 1|2] [--batch-rows N] [--batch-ms N] [--endpos LSN | --until-caught-up]
//   [--snapshot | --no-snapshot] [--snapshot-jobs N]
import type { Argv } from 'yargs';
import { formatLsn, parseLsn } from '../../protocol/lsn.js';
import { type ReplicateOptions, replicate, type StopAt } from '../../replicator/replicate.js';
import { parseTableName } from '../../sink/catalog.js';
import { UsageError } from '../errors.js';
import { log, warn } from '../log.js';
import { stopSignal } from '../shutdown.js';

export function replicateCommand(y: Argv): Argv {
  return y.command(
    'replicate',
    'follow a PostgreSQL database into a DuckDB file, exactly once',
    (a) =>
      a
        .option('source', {
          type: 'string',
          describe:
            'libpq conninfo or postgres:// URL of the source (PG* variables fill the gaps; DB_CONF also accepted)',
        })
        .option('duckdb', {
          type: 'string',
          demandOption: true,
          describe: 'DuckDB file to keep equal to the source',
        })
        .option('tables', {
          type: 'string',
          describe:
            'schema.table[,…] (no schema = public; TABLE_NAME also accepted); default: every table with a key or replica identity',
        })
        .option('slot', {
          type: 'string',
          describe: 'logical replication slot (default walduck_<database>), created when missing',
        })
        .option('format-version', {
          type: 'number',
          choices: [1, 2],
          default: 2,
          describe: 'wal2json output format',
        })
        .option('write-in-chunks', {
          type: 'boolean',
          default: true,
          describe:
            'format 1 only: let wal2json split each transaction into many messages (bounded memory); --no-write-in-chunks asks for one document per transaction',
        })
        .option('batch-rows', {
          type: 'number',
          default: 100_000,
          describe: 'commit to DuckDB after this many changes',
        })
        .option('batch-ms', { type: 'number', default: 1000, describe: 'or after this many milliseconds' })
        .option('endpos', {
          type: 'string',
          describe: 'stop once every transaction ending at or before this LSN is applied',
        })
        .option('until-caught-up', {
          type: 'boolean',
          describe: "stop once everything up to the server's WAL position at start is applied",
        })
        .conflicts('endpos', 'until-caught-up')
        .option('snapshot', {
          type: 'boolean',
          describe:
            'copy the existing rows first (default when walduck creates the slot); --snapshot forces it on a new DuckDB file (recreating an inactive slot), --no-snapshot streams only new changes',
        })
        .option('snapshot-jobs', {
          type: 'number',
          default: 1,
          describe: 'connections copying at once under the same snapshot (large tables split by page ranges)',
        })
        .example(
          "$0 replicate --source 'host=db user=repl dbname=shop' --duckdb shop.duckdb --tables public.orders,public.items",
          'follow two tables',
        ),
    async (args) => {
      const source = args.source ?? process.env.DB_CONF;
      const tablesText = args.tables ?? process.env.TABLE_NAME;
      const tables = tablesText
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean)
        .map(parseTableName);
      let stopAt: StopAt = { kind: 'never' };
      if (args.endpos !== undefined) {
        const lsn = parseLsn(args.endpos);
        if (lsn === undefined)
          throw new UsageError(`--endpos ${JSON.stringify(args.endpos)} is not an LSN like 0/16B3748`);
        stopAt = { kind: 'endpos', lsn };
      } else if (args['until-caught-up']) stopAt = { kind: 'caught-up' };
      for (const k of ['batch-rows', 'batch-ms', 'snapshot-jobs'] as const) {
        const v = args[k];
        if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${k} must be a positive whole number`);
      }
      const options: ReplicateOptions = {
        source,
        duckdb: args.duckdb,
        tables,
        slot: args.slot,
        formatVersion: args['format-version'] === 1 ? 1 : 2,
        writeInChunks: args['write-in-chunks'],
        batchRows: args['batch-rows'],
        batchMs: args['batch-ms'],
        stopAt,
        snapshot: args.snapshot === undefined ? 'auto' : args.snapshot ? 'force' : 'off',
        snapshotJobs: args['snapshot-jobs'],
        signal: stopSignal(),
        log: log.replicate,
        warn,
      };
      const r = await replicate(options);
      process.stderr.write(
        `walduck: ${r.rows} changes in ${r.transactions} transactions applied to ${args.duckdb}, up to ${formatLsn(r.applied)} (${r.stoppedBy})\n`,
      );
    },
  );
}
