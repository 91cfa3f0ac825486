// A chosen table's columns as the source catalog describes them (pg_attribute, pg_index, pg_type):
// names, declared and resolved types, and which of them are the key PostgreSQL logs as a row's
// identity. Apart from the choice of tables (source-tables.ts): type resolution is also what a schema
// change's new column needs (schema-catalog.ts).

import {
  CatalogError,
  type PgType,
  type QueryFn,
  type ReplicaIdentity,
  type SourceColumn,
  type SourceTable,
} from './catalog.js';
import { quoteLiteral } from './quote.js';

/** The table's columns and key; undefined when the table was dropped since it was listed. */
export async function readColumns(
  query: QueryFn,
  oid: string,
  schema: string,
  table: string,
  identity: ReplicaIdentity,
  hasPk: boolean,
): Promise<SourceTable | undefined> {
  const cols = await query(
    `SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, a.atttypmod, a.attnotnull, a.attndims
       FROM pg_attribute a WHERE a.attrelid = ${quoteLiteral(oid)}::oid AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`,
  );
  // The key is what PostgreSQL logs as the old row's identity: the USING INDEX index when the table
  // names one (even beside a primary key: wal2json's oldkeys then hold the index's columns, not the
  // key's), else the primary key. FULL logs every column, so the primary key (when any) suffices.
  // A DEFERRABLE primary key is none (see TABLES_SQL).
  const which =
    identity === 'index' ? 'i.indisreplident' : hasPk ? 'i.indisprimary AND i.indimmediate' : 'false';
  // Read after the columns, with the table's own row: none when it was dropped since it was listed
  // (the columns read then are partial or none, and a table with no key row looked keyless).
  const keyRows = await query(
    `SELECT x.k FROM pg_class c LEFT JOIN LATERAL (SELECT unnest(i.indkey) AS k FROM pg_index i WHERE i.indrelid = c.oid AND ${which}) x ON true WHERE c.oid = ${quoteLiteral(oid)}::oid`,
  );
  if (keyRows.length === 0) return undefined;
  const keyAttnums = new Set(keyRows.map((r) => r[0]).filter((k) => k !== null));
  const columns: SourceColumn[] = [];
  const key: number[] = [];
  for (const c of cols) {
    const type = await resolveType(query, Number(c[3]), Number(c[4]), Math.max(1, Number(c[6] ?? 0)));
    if (keyAttnums.has(c[0] ?? '')) key.push(columns.length);
    columns.push({ name: c[1] ?? '', declared: c[2] ?? '', type, notNull: c[5] === 't' });
  }
  return { oid, schema, table, columns, key, identity };
}

/** Follows domains to their base type and arrays to their element. */
export async function resolveType(
  query: QueryFn,
  typeOid: number,
  typmod: number,
  dims: number,
): Promise<PgType> {
  for (let depth = 0; depth < 16; depth++) {
    const r = (
      await query(
        `SELECT typname, typtype, typbasetype, typtypmod, typelem, typcategory, typdelim FROM pg_type WHERE oid = ${typeOid}`,
      )
    )[0];
    if (!r) throw new CatalogError(`type oid ${typeOid} not found in pg_type`, 'WALDUCK_CATALOG');
    const [typname, typtype, base, baseTypmod, elem, category, delim] = r;
    if (typtype === 'd') {
      typeOid = Number(base);
      if (typmod === -1) typmod = Number(baseTypmod);
      continue;
    }
    // int2vector and oidvector are category A too, but print as '1 2 3': only true arrays (_name).
    if (category === 'A' && elem !== '0' && typname?.startsWith('_')) {
      const element = await resolveType(query, Number(elem), typmod, 1);
      return { typname: typname ?? '', typmod, typtype: typtype ?? 'b', element, dims };
    }
    return {
      typname: typname ?? '',
      typmod,
      typtype: typtype ?? 'b',
      ...(delim && delim !== ',' ? { delim } : {}),
    };
  }
  throw new CatalogError(`domain nesting too deep for type oid ${typeOid}`, 'WALDUCK_CATALOG');
}
