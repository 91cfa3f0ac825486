// walduck verify --source CONNINFO --duckdb FILE [--tables …] [--slot NAME] [--rows] [--max-diffs N] [--json]
//
// Exit 0 when every table is equal at the consistent point, 1 on a difference (or a failure), 2 on a
// usage error.
import type { Argv } from 'yargs';
import type { RowDiff, RowValues } from '../../verify/narrow.js';
import type { TableReport, VerifyReport } from '../../verify/verify.js';
import { shownIdent, shownName } from '../../wal2json/shown-name.js';
import { EXIT_FAILURE } from '../errors.js';
import { log, warn } from '../log.js';
import { chosenTables, wholeNumber } from '../options.js';

export function verifyCommand(y: Argv): Argv {
  return y.command(
    'verify',
    'prove a DuckDB replica equals the source at one LSN (count and hash per table, inside each database)',
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
          describe: 'the walduck replica (DuckDB file)',
        })
        .option('tables', {
          type: 'string',
          describe: 'schema.table[,…] to compare (default: every table the replica holds)',
        })
        .option('slot', {
          type: 'string',
          describe: "the replica's slot (default: the one recorded in the file)",
        })
        .option('rows', {
          type: 'boolean',
          default: false,
          describe: 'narrow a difference down to the differing rows and print them with both sides’ values',
        })
        .option('max-diffs', {
          type: 'number',
          default: 20,
          describe: 'with --rows: at most this many rows per table',
        })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON report instead of lines' })
        .example(
          "$0 verify --source 'host=db user=repl dbname=shop' --duckdb shop.duckdb",
          'check every table',
        )
        .example(
          '$0 verify --source … --duckdb shop.duckdb --tables public.orders --rows',
          'and name the rows',
        ),
    async (args) => {
      const tables = chosenTables(args.tables);
      const maxDiffs = wholeNumber('max-diffs', args['max-diffs']) ?? 20;
      // Loaded when run: verify pulls in DuckDB's native module and the replicator.
      const { verify } = await import('../../verify/verify.js');
      const report = await verify({
        source: args.source ?? process.env.DB_CONF,
        duckdb: args.duckdb,
        tables,
        slot: args.slot,
        rows: args.rows,
        maxDiffs,
        log: log.verify,
        warn,
      });
      process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
      if (!report.equal) process.exitCode = EXIT_FAILURE;
    },
  );
}

export function renderReport(r: VerifyReport): string {
  const out: string[] = [];
  for (const t of r.tables) out.push(...renderTable(t));
  const diff = r.tables.filter((t) => !t.equal).length;
  out.push(
    `${diff === 0 ? 'EQUAL' : 'DIFFERENT'}: ${r.tables.length - diff} of ${r.tables.length} table(s) equal at ${r.lsn} (slot ${r.slot}; replica brought from ${r.replicaLsnBefore} to ${r.replicaLsn}, ${r.catchUp.transactions} transaction(s) applied; ${r.seconds.toFixed(1)} s)`,
  );
  return `${out.join('\n')}\n`;
}

/**
 * A key value as the report prints it: as it is, unless it holds a control character (a
 * newline is legal in a PostgreSQL name and in text), which would split the report's lines: then as a
 * JSON string, escaped.
 */
function shown(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is matched
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s) ? JSON.stringify(s) : s;
}

function renderTable(t: TableReport): string[] {
  const name = shownName(t);
  const rules = new Map<string, string[]>();
  for (const x of t.tolerances) rules.set(x.rule, [...(rules.get(x.rule) ?? []), x.column]);
  const tol =
    rules.size > 0
      ? ` (tolerance: ${[...rules].map(([rule, cols]) => `${cols.join(', ')} ${rule}`).join('; ')})`
      : '';
  if (t.equal) return [`${name}: EQUAL, ${t.source.rows} rows${tol}`];
  const missing = t.missingInReplica;
  if (missing !== undefined)
    return [
      `${name}: DIFFERENT, the replica lacks column(s) ${missing.map(shownIdent).join(', ')}, source ${t.source.rows} rows, replica ${t.replica.rows} rows (a schema change with no row of the table written since: walduck applies it at the table's next change)`,
    ];
  const what =
    t.source.rows === t.replica.rows
      ? `${t.source.rows} rows on both sides, but the row hashes differ (source ${t.source.hash}, replica ${t.replica.hash})`
      : `source ${t.source.rows} rows, replica ${t.replica.rows} rows`;
  const copy =
    t.copyUnfinished === undefined
      ? ''
      : `; its online copy is not finished${t.copyUnfinished ? ` (${t.copyUnfinished})` : ''}: run walduck replicate until walduck status shows it streaming, then verify again`;
  const lines = [`${name}: DIFFERENT, ${what}${tol}${copy}`];
  for (const d of t.diffs ?? []) lines.push(`  ${renderDiff(d)}`);
  if (t.diffsTruncated) lines.push('  … more differences (raise --max-diffs to see them)');
  return lines;
}

function values(v: RowValues | null): string {
  return v === null ? '-' : JSON.stringify(v);
}

export function renderDiff(d: RowDiff): string {
  const key =
    d.key === null
      ? 'row'
      : Object.entries(d.key)
          .map(([k, v]) => `${shownIdent(k)}=${v === null ? 'NULL' : shown(v)}`)
          .join(', ');
  switch (d.kind) {
    case 'missing':
      return `missing in replica: ${key}: source ${values(d.source)}`;
    case 'extra':
      return `extra in replica: ${key}: replica ${values(d.replica)}`;
    case 'different':
      return `different: ${key}: source ${values(d.source)} replica ${values(d.replica)}`;
  }
}
