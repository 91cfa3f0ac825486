// Running a schema change's plan (schema-plan.ts) in DuckDB, inside the caller's open transaction:
// ALTERs where DuckDB commits them, a rebuild of the table where it would not, the rows filled from
// the source where a step says so, and one line per step on the warning channel.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { SchemaCatalog } from '../source/schema-catalog.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { attachedCatalog } from './checkpoint.js';
import { fillFromSource } from './fill-from-source.js';
import { fillsFromSource, type Plan, type Step } from './schema-change.js';
import type { RecordedTable } from './source-schema.js';
import { qualified, quoteIdent, quoteLiteral } from './sql.js';
import { targetSchema } from './target.js';
import { type MapOptions, mapType } from './type-map.js';

/**
 * Runs a plan's DuckDB statements (inside the caller's open transaction) and logs each step.
 *
 * DuckDB refuses to commit a transaction that ALTERs a table it has already UPDATEd or DELETEd from
 * ("another transaction has altered this table"; INSERTs are fine). When the open transaction has
 * (`touched`), the table is rebuilt instead: CREATE TABLE AS SELECT with the new shape, DROP, RENAME,
 * which DuckDB commits. That costs a copy of the table, so the plain ALTERs are used when they can be.
 */
export async function applyPlan(
  conn: DuckDBConnection,
  rec: RecordedTable,
  plan: Plan,
  lsn: Lsn,
  say: (msg: string) => void,
  touched: boolean,
  query?: SchemaCatalog,
  mo: MapOptions = {},
): Promise<void> {
  const schema = targetSchema(rec.schema);
  // Qualified with the attached database, as every DuckDB reference (a file named like the schema).
  const table = `${quoteIdent(await attachedCatalog(conn))}.${qualified(schema, rec.table)}`;
  if (touched) await rebuild(conn, schema, rec, plan, mo);
  else await alter(conn, table, plan, mo);
  for (const s of plan.steps) {
    if (!fillsFromSource(s)) continue;
    if (!query) throw new InternalError('apply', 'a column filled from the source needs the source catalog');
    const keyTargets = plan.next.keyNames.map((k) => {
      const c = plan.next.columns.find((x) => x.name === k && !x.dropped);
      return { name: k, pg: c?.pg ?? { typname: 'text', typmod: -1, typtype: 'b' } };
    });
    await fillFromSource(conn, query, table, s.fromSource, keyTargets, s.kind === 'add' ? s.col : s.to, mo);
  }
  const at = `at LSN ${formatLsn(lsn)}`;
  const who = shownName(rec);
  for (const s of plan.steps) {
    if (s.kind === 'drop')
      say(
        `${who}: DROP COLUMN ${shownIdent(s.col.name)} applied ${at} (${s.keep ? 'kept in DuckDB, NULL in rows written from now on (--on-drop-column keep)' : rec.keyNames.length === 0 ? 'dropped in DuckDB too: the table has no key, its rows are matched on every column' : 'dropped in DuckDB too (--on-drop-column drop)'})`,
      );
    else if (s.kind === 'rename')
      say(`${who}: RENAME COLUMN ${shownIdent(s.from)} TO ${shownIdent(s.to)} applied ${at}`);
    else if (s.kind === 'type') {
      const zone = s.inZone
        ? ': existing rows take the values the source holds now, as PostgreSQL converted them in the time zone of the session that ran the ALTER; changes streamed after this one overwrite them'
        : s.fromSource
          ? ': existing rows take the values the source holds now, as PostgreSQL rewrote them (an ALTER … USING may have changed them); changes streamed after this one overwrite them'
          : '';
      say(
        `${who}: ALTER COLUMN ${shownIdent(s.to.name)} TYPE ${s.to.type} (was ${s.col.type}; DuckDB ${mapType(s.to.pg, mo).duckType}${zone}) applied ${at}`,
      );
    } else say(`${who}: ADD COLUMN ${shownIdent(s.col.name)} ${s.col.type} applied ${at} (${s.note})`);
  }
}

/** The value an added column takes in the rows already there: NULL or PostgreSQL's constant. */
function addValue(s: Extract<Step, { kind: 'add' }>, mo: MapOptions): string {
  const m = mapType(s.col.pg, mo);
  if (s.fill === null) return `CAST(NULL AS ${m.duckType})`;
  return m.convert(quoteLiteral(m.pre ? m.pre(s.fill) : s.fill));
}

function typeExpr(s: Extract<Step, { kind: 'type' }>, ref: string, mo: MapOptions): string {
  const to = mapType(s.to.pg, mo).duckType;
  return s.inZone ? `timezone('UTC', ${ref})` : `CAST(${ref} AS ${to})`;
}

async function alter(conn: DuckDBConnection, table: string, plan: Plan, mo: MapOptions): Promise<void> {
  // Drops first (a rename may take a dropped column's name), then renames through temporary names
  // (so swaps a->b, b->a never collide), then type changes, then additions.
  for (const s of plan.steps)
    if (s.kind === 'drop' && !s.keep)
      await conn.run(`ALTER TABLE ${table} DROP COLUMN ${quoteIdent(s.col.name)}`);
  const renames = plan.steps.filter((s) => s.kind === 'rename');
  const tmp = (k: number) => `__walduck_rename_${k}`;
  for (const [k, s] of renames.entries())
    await conn.run(`ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(s.from)} TO ${quoteIdent(tmp(k))}`);
  for (const [k, s] of renames.entries())
    await conn.run(`ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(tmp(k))} TO ${quoteIdent(s.to)}`);
  for (const s of plan.steps) {
    if (s.kind === 'type') {
      const to = mapType(s.to.pg, mo).duckType;
      const col = quoteIdent(s.to.name);
      if (s.inZone || to !== mapType(s.col.pg, mo).duckType)
        await conn.run(`ALTER TABLE ${table} ALTER COLUMN ${col} TYPE ${to} USING ${typeExpr(s, col, mo)}`);
    } else if (s.kind === 'add')
      await conn.run(
        `ALTER TABLE ${table} ADD COLUMN ${quoteIdent(s.col.name)} ${mapType(s.col.pg, mo).duckType}`,
      );
  }
  // The constant PostgreSQL shows for the rows that existed, set after every ALTER: DuckDB refuses to
  // commit a transaction in which a column added with DEFAULT CAST(…) is followed by another ALTER of
  // the table and a write to it ("another transaction has altered this table"), which made two such
  // columns and a row stop at every start. Every later row carries its own value.
  const fills = plan.steps.filter((s) => s.kind === 'add' && s.fill !== null) as Extract<
    Step,
    { kind: 'add' }
  >[];
  if (fills.length > 0)
    await conn.run(
      `UPDATE ${table} SET ${fills.map((s) => `${quoteIdent(s.col.name)} = ${addValue(s, mo)}`).join(', ')}`,
    );
}

async function rebuild(
  conn: DuckDBConnection,
  schema: string,
  rec: RecordedTable,
  plan: Plan,
  mo: MapOptions,
): Promise<void> {
  const byAttnum = new Map(rec.columns.map((c) => [c.attnum, c]));
  const types = new Map<number, Extract<Step, { kind: 'type' }>>();
  const adds = new Map<number, Extract<Step, { kind: 'add' }>>();
  for (const s of plan.steps) {
    if (s.kind === 'type') types.set(s.col.attnum, s);
    else if (s.kind === 'add') adds.set(s.col.attnum, s);
  }
  const select = plan.next.columns.map((c) => {
    const add = adds.get(c.attnum);
    const old = byAttnum.get(c.attnum);
    let expr: string;
    if (add !== undefined || old === undefined) expr = add ? addValue(add, mo) : 'NULL';
    else {
      const ref = quoteIdent(old.name);
      const t = types.get(c.attnum);
      expr = t ? typeExpr(t, ref, mo) : ref;
    }
    return `${expr} AS ${quoteIdent(c.name)}`;
  });
  const catalog = quoteIdent(await attachedCatalog(conn));
  const table = `${catalog}.${qualified(schema, rec.table)}`;
  const fresh = `${catalog}.${qualified(schema, `__walduck_rebuild_${rec.table}`)}`;
  await conn.run(`CREATE TABLE ${fresh} AS SELECT ${select.join(', ')} FROM ${table}`);
  await conn.run(`DROP TABLE ${table}`);
  await conn.run(`ALTER TABLE ${fresh} RENAME TO ${quoteIdent(rec.table)}`);
}
