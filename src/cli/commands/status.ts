// walduck status --duckdb FILE [--json]: what a replica follows, from the file alone (read-only, no
// server): per slot, every table of its recorded table set with its state (streaming, copying,
// stopped, skipped) and the last LSN applied to it.
import type { Argv } from 'yargs';
import { withDuckDb } from '../../sink/duckdb-file.js';
import { DuckFileError } from '../../sink/errors.js';
import { quoteIdent } from '../../sink/sql.js';
import { shownName, shownStoredName } from '../../wal2json/shown-name.js';

interface Row {
  slot: string;
  /** schema.table quoted where a part needs it, as quote_ident() would (`"a.b".c`); plain names plain. */
  table: string;
  /** The source's names as they are, unquoted (--json): what a program matches on. */
  source_schema?: string;
  source_table?: string;
  target: string | null;
  state: string;
  lsn: string | null;
  partitions: string[];
  note: string | null;
}

export function statusCommand(y: Argv): Argv {
  return y.command(
    'status',
    "list a replica's tables with their state and last applied LSN",
    (a) =>
      a
        .option('duckdb', { type: 'string', demandOption: true, describe: 'a walduck DuckDB file' })
        .option('json', { type: 'boolean', default: false, describe: 'one JSON object per table' })
        .example('$0 status --duckdb shop.duckdb', 'what shop.duckdb follows'),
    async (args) => {
      const rows = await withDuckDb(args.duckdb, true, async (query) => {
        const has = await query(
          "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'walduck' AND table_name IN ('state', 'tables')",
        );
        // Qualified with the attached database: a file named walduck.duckdb makes walduck.x ambiguous.
        const cat = quoteIdent(String((await query('SELECT current_database()')).rows[0]?.[0]));
        const names = new Set(has.rows.map((r) => String(r[0])));
        if (!names.has('state'))
          throw new DuckFileError(
            'WALDUCK_DUCKDB_NOT_REPLICA',
            `${args.duckdb} has no walduck.state table: it is not a walduck replica`,
          );
        if (!names.has('tables')) {
          // A replica written before the table set was recorded: its slots, tables unknown.
          const r = await query(`SELECT slot, lsn FROM ${cat}.walduck.state ORDER BY slot`);
          return r.rows.map(
            (s): Row => ({
              slot: String(s[0]),
              table: '(table set not recorded yet: the next replicate run records it)',
              target: null,
              state: 'unknown',
              lsn: String(s[1]),
              partitions: [],
              note: null,
            }),
          );
        }
        const r = await query(
          `SELECT t.slot, t.source_schema, t.source_table, t.target_schema, t.target_table, t.state,
                  CASE WHEN t.state IN ('streaming', 'copying') THEN s.lsn ELSE t.lsn END, t.partitions, t.note
             FROM ${cat}.walduck.tables t LEFT JOIN ${cat}.walduck.state s USING (slot)
            ORDER BY t.slot, t.source_schema, t.source_table`,
        );
        return r.rows.map(
          (x): Row => ({
            slot: String(x[0]),
            table: shownName({ schema: String(x[1]), table: String(x[2]) }),
            source_schema: String(x[1]),
            source_table: String(x[2]),
            target:
              x[3] === null || x[4] === null
                ? null
                : shownName({ schema: String(x[3]), table: String(x[4]) }),
            state: String(x[5]),
            lsn: x[6] === null ? null : String(x[6]),
            partitions: x[7] === null ? [] : (JSON.parse(String(x[7])) as string[]),
            note: x[8] === null ? null : String(x[8]),
          }),
        );
      });
      if (args.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const lines = [['SLOT', 'TABLE', 'STATE', 'LSN', 'DUCKDB TABLE', 'PARTITIONS']];
      for (const r of rows)
        lines.push([
          r.slot,
          r.table,
          r.state,
          r.lsn ?? '-',
          r.target ?? '-',
          r.partitions.map(shownStoredName).join(',') || '-',
        ]);
      const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? [];
      for (const l of lines)
        process.stdout.write(
          `${l
            .map((c, i) => c.padEnd(widths[i] ?? 0))
            .join('  ')
            .trimEnd()}\n`,
        );
    },
  );
}
