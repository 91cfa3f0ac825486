// walduck bench [--source CONNINFO] [--rows N] [--repeat N] [--formats v2,v1,v1-chunks] [--json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { BenchError } from '../../bench/errors.js';
import { json, machine, markdown } from '../../bench/report.js';
import { type Contender, type Format, PEER, runBench } from '../../bench/run.js';
import { UsageError } from '../errors.js';

const FORMATS: readonly Format[] = ['v2', 'v1', 'v1-chunks'];
const CONTENDERS: readonly Contender[] = ['pg_recvlogical', 'stream', 'decode', 'replicate', PEER];
/** Run only when asked (--contenders), with --alt-args. */
const OPTIONAL: readonly Contender[] = ['replicate-alt'];

export function benchCommand(y: Argv): Argv {
  return y.command(
    'bench',
    'replication throughput: pg_recvlogical, walduck stream, decode only, replicate and the Node peer pg-logical-replication over the same WAL range',
    (a) =>
      a
        .option('source', {
          type: 'string',
          describe:
            'a server to use instead of a throwaway cluster (needs a superuser; creates and drops schema walduck_bench and its slots only)',
        })
        .option('rows', { type: 'number', default: 1_000_000, describe: 'scales every workload' })
        .option('repeat', {
          type: 'number',
          default: 3,
          describe: 'repetitions per cell (median, min–max shown); at least 3 for numbers you publish',
        })
        .option('formats', {
          type: 'string',
          default: FORMATS.join(','),
          describe: 'wal2json formats: v2, v1 (whole transactions), v1-chunks',
        })
        .option('workloads', { type: 'string', describe: 'which workloads, by number (1-5); default all' })
        .option('contenders', { type: 'string', default: CONTENDERS.join(','), describe: 'which contenders' })
        .option('alt-args', {
          type: 'string',
          describe:
            'contender replicate-alt: replicate with these arguments added, to compare a setting on the same WAL range (give it with =: --alt-args="--duckdb-threads 1")',
        })
        .option('latency-rate', {
          type: 'number',
          describe:
            'latency mode: a steady writer at this many rows/s while replicate follows; reports p50/p99 from source commit to DuckDB commit',
        })
        .option('latency-seconds', {
          type: 'number',
          default: 20,
          describe: 'how long the latency writer runs',
        })
        .option('batch-ms', {
          type: 'number',
          describe: "latency mode: replicate's --batch-ms (default: replicate's own)",
        })
        .option('json', {
          type: 'boolean',
          default: false,
          describe: 'print JSON instead of the Markdown table',
        })
        .option('out', {
          type: 'string',
          default: 'bench/results',
          describe: 'directory for the saved .md and .json',
        })
        .example('$0 bench --rows 100000 --repeat 3 --formats v2', 'a quick run on a throwaway cluster')
        .example(
          '$0 bench --latency-rate 5000 --latency-seconds 20',
          'replication delay under a steady writer',
        ),
    async (args) => {
      const formats = args.formats.split(',').map((f) => f.trim()) as Format[];
      const bad = formats.find((f) => !FORMATS.includes(f));
      if (bad)
        throw new UsageError(`--formats: unknown format ${JSON.stringify(bad)} (use ${FORMATS.join(', ')})`);
      const contenders = args.contenders.split(',').map((c) => c.trim()) as Contender[];
      const badC = contenders.find((c) => !CONTENDERS.includes(c) && !OPTIONAL.includes(c));
      if (badC)
        throw new UsageError(
          `--contenders: unknown contender ${JSON.stringify(badC)} (use ${[...CONTENDERS, ...OPTIONAL].join(', ')})`,
        );
      const altArgs = args['alt-args']?.split(/\s+/).filter((a) => a !== '');
      if (contenders.includes('replicate-alt') !== (altArgs !== undefined && altArgs.length > 0))
        throw new UsageError('--alt-args and the contender replicate-alt go together: give both or neither');
      if (!contenders.includes('pg_recvlogical'))
        throw new UsageError('--contenders must include pg_recvlogical: it is the reference');
      if (!Number.isInteger(args.rows) || args.rows < 100)
        throw new UsageError('--rows must be a whole number of at least 100');
      if (!Number.isInteger(args.repeat) || args.repeat < 1)
        throw new UsageError('--repeat must be a positive whole number');
      if (spawnSync('pg_recvlogical', ['--version']).status !== 0) {
        throw new BenchError(
          'pg_recvlogical not found: it is the reference; install the PostgreSQL client (apt-get install postgresql-client-15)',
        );
      }
      const workloads = args.workloads?.split(',').map(Number);
      const rate = args['latency-rate'];
      if (rate !== undefined && (!(rate > 0) || !(args['latency-seconds'] > 0))) {
        throw new UsageError('--latency-rate and --latency-seconds must be positive');
      }
      const result = await runBench({
        source: args.source,
        rows: args.rows,
        repeat: args.repeat,
        formats,
        workloads,
        contenders,
        altArgs,
        log: (line) => process.stderr.write(`walduck bench: ${line}\n`),
        latency:
          rate === undefined
            ? undefined
            : {
                rate,
                seconds: args['latency-seconds'],
                replicateArgs: args['batch-ms'] === undefined ? [] : ['--batch-ms', String(args['batch-ms'])],
              },
      });
      if (!Array.isArray(result)) {
        const text = `${machine()}. Writer ${result.rate} rows/s for ${result.seconds} s (${result.rowsWritten} rows, 100 transactions/s): ${result.summary}\n`;
        process.stdout.write(args.json ? `${JSON.stringify({ machine: machine(), ...result })}\n` : text);
        return;
      }
      const cells = result;
      const md = markdown(cells, args.repeat);
      const js = json(cells, args.repeat);
      mkdirSync(args.out, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      writeFileSync(join(args.out, `bench-${stamp}.md`), md);
      writeFileSync(join(args.out, `bench-${stamp}.json`), js);
      process.stdout.write(args.json ? js : md);
    },
  );
}
