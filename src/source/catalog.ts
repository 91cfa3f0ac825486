// Reads the chosen tables' shape from the source catalog (pg_class, pg_attribute, pg_index, pg_type)
// before streaming: columns and types, the key that identifies a row, and the replica identity that
// decides what wal2json can tell us about updated and deleted rows.

import { WalduckError } from '../protocol/errors.js';
import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { quoteLiteral } from './quote.js';

export type Rows = readonly (readonly (string | null)[])[];
/** Runs one SQL statement on the source and returns its rows as text (simple query protocol). */
export type QueryFn = (sql: string) => Promise<Rows>;

/** A column's type as the catalog describes it; the sink maps it to a DuckDB type. */
export interface PgType {
  /** Base type name in pg_catalog after resolving domains (e.g. "int4", "numeric", "_int4" for arrays). */
  readonly typname: string;
  readonly typmod: number;
  /** pg_type.typtype of the base type: b base, c composite, e enum, r range, m multirange, p pseudo. */
  readonly typtype: string;
  /** For arrays: the element type (domains resolved), and the declared dimension count (at least 1). */
  readonly element?: PgType;
  readonly dims?: number;
  /** pg_type.typdelim: what separates this type's elements in array text (';' for box, else ','). */
  readonly delim?: string;
}

export interface SourceColumn {
  readonly name: string;
  /** The declared type as PostgreSQL prints it (format_type), e.g. "numeric(10,2)", "text[]". */
  readonly declared: string;
  readonly type: PgType;
  readonly notNull: boolean;
}

export type ReplicaIdentity = 'default' | 'full' | 'index' | 'nothing';

export interface SourceTable extends TableRef {
  /** pg_class oid (text); absent for tables described by hand (tests). */
  readonly oid?: string;
  /** A partitioned table (relkind 'p'): rows live in its leaf partitions, replicated as this one table. */
  readonly partitioned?: boolean;
  readonly columns: readonly SourceColumn[];
  /** Indexes into `columns` of the primary key, else of the replica identity index; empty when neither. */
  readonly key: readonly number[];
  readonly identity: ReplicaIdentity;
}

export class CatalogError extends WalduckError {
  override readonly name = 'CatalogError';
  readonly phase = 'preflight';
  constructor(
    message: string,
    readonly code: 'WALDUCK_UNKNOWN_TABLE' | 'WALDUCK_NO_IDENTITY' | 'WALDUCK_NO_TABLES' | 'WALDUCK_CATALOG',
  ) {
    super(message);
  }
}

const IDENTITY: Readonly<Record<string, ReplicaIdentity>> = {
  d: 'default',
  f: 'full',
  i: 'index',
  n: 'nothing',
};

/** PostgreSQL's longest name, in bytes (NAMEDATALEN - 1). */
const MAX_NAME_BYTES = 63;

/**
 * A name cut to 63 bytes at a character boundary, as PostgreSQL's truncate_identifier() cuts every
 * identifier it reads (quoted or not): psql finds the table by its long name, and so does --tables.
 */
function clipIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  let bytes = 0;
  let out = '';
  for (const ch of name) {
    bytes += Buffer.byteLength(ch);
    if (bytes > MAX_NAME_BYTES) break;
    out += ch;
  }
  return out;
}

/** "schema.table" or "table" (meaning public); a quoted part may hold dots: "my.schema"."t". */
export function parseTableName(spec: string): TableRef {
  const parts: string[] = [];
  let i = 0;
  const s = spec.trim();
  while (i < s.length) {
    let part = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length)
          throw new CatalogError(
            `unterminated quote in table name ${JSON.stringify(spec)}`,
            'WALDUCK_CATALOG',
          );
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += s[i];
        i++;
      }
    } else {
      while (i < s.length && s[i] !== '.') part += s[i++];
      // Unquoted names fold to lower case as PostgreSQL's downcase_identifier() does in a UTF8
      // database: ASCII letters only. toLowerCase() also folded "Ünï" to "ünï", another schema.
      part = part.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
    }
    parts.push(clipIdentifier(part));
    if (i < s.length) {
      if (s[i] !== '.')
        throw new CatalogError(
          `unexpected character in table name ${JSON.stringify(spec)}`,
          'WALDUCK_CATALOG',
        );
      i++;
      // A dot ends a part and starts another: "s." names no table (it read as public.s).
      if (i === s.length) parts.push('');
    }
  }
  if (parts.length === 1 && parts[0]) return { schema: 'public', table: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { schema: parts[0], table: parts[1] };
  throw new CatalogError(
    `cannot read table name ${JSON.stringify(spec)}: use schema.table or table`,
    'WALDUCK_CATALOG',
  );
}

/**
 * A --tables list: names separated by commas outside double quotes ("a,b".t is one name), blanks
 * between commas ignored.
 */
export function parseTableList(text: string): TableRef[] {
  const specs: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted; // a doubled quote inside a name toggles twice
    if (ch === ',' && !quoted) {
      specs.push(cur);
      cur = '';
    } else cur += ch;
  }
  specs.push(cur);
  return specs
    .map((t) => t.trim())
    .filter(Boolean)
    .map(parseTableName);
}

// Partitions are not listed: a partitioned table is one table (its leaves are routed to it, see
// src/source/partitions.ts). Foreign, unlogged and temporary tables are listed so they can be named
// when skipped or refused: their changes never reach WAL.
// A DEFERRABLE primary key (indimmediate false) is no key here: PostgreSQL never logs a row's
// identity by it (its relcache skips non-immediate indexes), and wal2json's "pk" leaves it out.
const TABLES_SQL = `SELECT c.oid, n.nspname, c.relname, c.relreplident,
    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND i.indimmediate) AS has_pk,
    c.relkind, c.relpersistence,
    (SELECT rn.nspname FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.relispartition AND r.oid = pg_partition_root(c.oid)) AS root_schema,
    (SELECT r.relname FROM pg_class r WHERE c.relispartition AND r.oid = pg_partition_root(c.oid)) AS root_table,
    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND NOT i.indimmediate) AS deferrable_pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/** Why a table's changes never reach the slot, or undefined when they do. */
function notLogged(kind: string, persistence: string): string | undefined {
  if (kind === 'f') return 'a foreign table';
  if (persistence === 'u') return 'unlogged';
  if (persistence === 't') return 'temporary';
  return undefined;
}

/** One row of TABLES_SQL, read. */
interface Listed {
  oid: string;
  schema: string;
  table: string;
  identity: ReplicaIdentity;
  hasPk: boolean;
  partitioned: boolean;
  unlogged: string | undefined;
  /** The partition's root, shown as shownName shows it; null for a table that is not a partition. */
  root: string | null;
  /** Its primary key is DEFERRABLE, so no key (see TABLES_SQL): said where it is refused or skipped. */
  deferrable: boolean;
}

/**
 * Lists the source's tables (TABLES_SQL), only those named in `only` when given: a start with
 * --tables, or one table looked up while streaming, reads a few rows, not every table of the database.
 */
async function listTables(query: QueryFn, only: readonly TableRef[] | undefined): Promise<Listed[]> {
  const filter =
    only && only.length > 0
      ? ` AND (n.nspname::text, c.relname::text) IN (VALUES ${only.map((t) => `(${quoteLiteral(t.schema)}, ${quoteLiteral(t.table)})`).join(', ')})`
      : '';
  const all = await query(TABLES_SQL + filter);
  return all.map((r) => ({
    oid: r[0] ?? '',
    schema: r[1] ?? '',
    table: r[2] ?? '',
    identity: IDENTITY[r[3] ?? 'd'] ?? 'default',
    hasPk: r[4] === 't',
    partitioned: r[5] === 'p',
    unlogged: notLogged(r[5] ?? 'r', r[6] ?? 'p'),
    root: r[7] == null || r[8] == null ? null : shownName({ schema: r[7], table: r[8] }),
    deferrable: r[9] === 't',
  }));
}

/** Whether wal2json reports which row an UPDATE or DELETE of the table touched. */
const usable = (r: Listed): boolean =>
  (r.hasPk && r.identity === 'default') || r.identity === 'full' || r.identity === 'index';

/**
 * For each of `tables` that exists as a table of its own (refKey; a partition is none): whether it
 * can be replicated now (a row identity wal2json reports, and logged). What the all-tables start
 * judges, for tables skipped while streaming and looked at again.
 */
export async function replicableNow(
  query: QueryFn,
  tables: readonly TableRef[],
): Promise<Map<string, boolean>> {
  if (tables.length === 0) return new Map();
  const rows = await listTables(query, tables);
  return new Map(rows.filter((r) => !r.root).map((r) => [refKey(r), usable(r) && !r.unlogged]));
}

/** A table all-tables mode skips for want of a row identity (logged, not a partition), with its oid. */
export interface SkippedTable extends TableRef {
  readonly oid: string;
}

/**
 * Resolves the chosen tables (all tables with a key or FULL identity when none given). In all-tables
 * mode `skipped` is told each table left out for want of a row identity (the warning's), from the same
 * listing: the start looks at them again while streaming (skipped-new.ts).
 */
export async function readSourceTables(
  query: QueryFn,
  chosen: readonly TableRef[] | undefined,
  warn?: (msg: string) => void,
  skipped?: (t: SkippedTable) => void,
): Promise<SourceTable[]> {
  const rows = await listTables(query, chosen);
  const named = (r: Listed) =>
    r.deferrable && !r.hasPk ? `${shownName(r)} (its primary key is DEFERRABLE)` : shownName(r);
  let picked: Listed[];
  let noIdentity: Listed[] = [];
  if (chosen && chosen.length > 0) {
    const missing: string[] = [];
    picked = chosen.map((t) => {
      const row = rows.find((r) => r.schema === t.schema && r.table === t.table);
      if (!row) missing.push(shownName(t));
      return row as Listed;
    });
    const leaf = picked.find((r) => r?.root);
    if (leaf) {
      throw new CatalogError(
        `table ${shownName(leaf)} is a partition of ${leaf.root}: name ${leaf.root} in --tables (a partitioned table is replicated as one table, its partitions' changes included)`,
        'WALDUCK_UNKNOWN_TABLE',
      );
    }
    const stale = picked.find((r) => r?.unlogged);
    if (stale) {
      throw new CatalogError(
        `table ${shownName(stale)} is ${stale.unlogged}: its changes never reach WAL, so a replica would go stale; leave it out of --tables${stale.unlogged === 'unlogged' ? ' or run ALTER TABLE ... SET LOGGED' : ''}`,
        'WALDUCK_NO_IDENTITY',
      );
    }
    if (missing.length > 0) {
      throw new CatalogError(
        `unknown table ${missing.join(', ')} on the source: check the name (schema.table; unquoted names are lower-cased) and that the role may see it`,
        'WALDUCK_UNKNOWN_TABLE',
      );
    }
  } else {
    const roots = rows.filter((r) => !r.root);
    picked = roots.filter((r) => usable(r) && !r.unlogged);
    noIdentity = roots.filter((r) => !usable(r) && !r.unlogged);
    const unlogged = roots.filter((r) => r.unlogged).map((r) => `${shownName(r)} (${r.unlogged})`);
    // Said, not silent: a table with a primary key but REPLICA IDENTITY NOTHING looks replicable.
    if (noIdentity.length > 0 && picked.length > 0)
      warn?.(
        `not replicating ${noIdentity.map(named).join(', ')}: no primary key or replica identity (or REPLICA IDENTITY NOTHING; a DEFERRABLE primary key is none), so their updates and deletes are not logged; give them a primary key, and each is copied online: at its first change after that while walduck runs, else at the next start`,
      );
    if (unlogged.length > 0 && picked.length > 0)
      warn?.(`not replicating ${unlogged.join(', ')}: their changes never reach WAL`);
    if (picked.length === 0) {
      throw new CatalogError(
        'no table with a primary key or replica identity on the source: name tables with --tables',
        'WALDUCK_NO_TABLES',
      );
    }
  }
  const tables: SourceTable[] = [];
  const gone: string[] = [];
  for (const r of picked) {
    const read = await readColumns(query, r.oid, r.schema, r.table, r.identity, r.hasPk);
    if (read) tables.push({ ...read, ...(r.partitioned ? { partitioned: true } : {}) });
    else gone.push(shownName(r));
  }
  // Dropped between the listing and the reading of its columns. Named in --tables: it does not exist.
  // Among all tables: it is no longer one of them, and it has no rows anywhere to lose.
  if (gone.length > 0 && chosen && chosen.length > 0)
    throw new CatalogError(
      `table ${gone.join(', ')} does not exist on the source (dropped while walduck read the catalog)`,
      'WALDUCK_UNKNOWN_TABLE',
    );
  if (tables.length === 0)
    throw new CatalogError(
      'no table with a primary key or replica identity on the source: name tables with --tables',
      'WALDUCK_NO_TABLES',
    );
  const nothing = tables.filter((t) => t.identity === 'nothing');
  if (nothing.length > 0) {
    const names = nothing.map((t) => shownName(t)).join(', ');
    throw new CatalogError(
      `table ${names} has REPLICA IDENTITY NOTHING, so PostgreSQL does not log which row an UPDATE or DELETE touched (wal2json drops them): run ALTER TABLE ... REPLICA IDENTITY DEFAULT (with a primary key) or FULL`,
      'WALDUCK_NO_IDENTITY',
    );
  }
  const unusable = tables.filter((t) => t.key.length === 0 && t.identity !== 'full');
  if (unusable.length > 0) {
    const deferrable = unusable.filter((t) => rows.find((r) => r.oid === t.oid)?.deferrable);
    if (deferrable.length > 0)
      throw new CatalogError(
        `table ${deferrable.map((t) => shownName(t)).join(', ')} has a DEFERRABLE primary key, which PostgreSQL does not log as the row's identity, so it does not log which row an UPDATE or DELETE touched (wal2json drops them): make the key NOT DEFERRABLE or run ALTER TABLE ... REPLICA IDENTITY FULL`,
        'WALDUCK_NO_IDENTITY',
      );
    const names = unusable.map((t) => shownName(t)).join(', ');
    throw new CatalogError(
      `table ${names} has no primary key and no REPLICA IDENTITY FULL, so PostgreSQL does not log which row an UPDATE or DELETE touched (wal2json drops them): add a primary key or run ALTER TABLE ... REPLICA IDENTITY FULL`,
      'WALDUCK_NO_IDENTITY',
    );
  }
  for (const r of noIdentity) skipped?.({ schema: r.schema, table: r.table, oid: r.oid });
  return tables;
}

async function readColumns(
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
