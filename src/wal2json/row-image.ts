// Row images (names, types, type OIDs, values) read from either format, and the per-table cache that
// hands out the same `names` / `types` / `typeOids` array instances for consecutive rows of a table
// while they do not change, so the sink can key its per-table work on identity. A row's names are
// compared with the cached ones byte by byte as they are read: an unchanged table costs no string and
// no array but the values.

import type { RowImage, Value } from './change.js';
import { inColumn } from './errors.js';
import type { JsonReader } from './json-reader.js';
import { Reuse } from './reuse.js';
import { readTypeName } from './type-name.js';
import type { ColumnPrefixes, PrintedPk } from './v2-prefix.js';

/** The arrays of the last image of one kind (new row, old key, pk) seen for a table. */
export interface ImageSlot {
  names: readonly string[] | undefined;
  types: readonly string[] | undefined;
  typeOids: readonly number[] | undefined;
  /** v2: what each column printed before its value, read with these names, types and OIDs (v2-prefix.ts). */
  prefixes: ColumnPrefixes | undefined;
}

export interface TableSlot {
  readonly schema: string;
  readonly table: string;
  readonly newImage: ImageSlot;
  readonly oldImage: ImageSlot;
  pk: readonly string[] | undefined;
  /** v2: the bytes of the last "pk" array read, with the names they gave (v2.ts pk). */
  pkPrinted: PrintedPk | undefined;
}

function emptySlot(): ImageSlot {
  return { names: undefined, types: undefined, typeOids: undefined, prefixes: undefined };
}

/** A table cache: bounded so a stream of ever new table names cannot grow it without end. */
export class TableCache {
  private readonly map = new Map<string, TableSlot>();
  private last: TableSlot | undefined;

  constructor(private readonly maxTables = 10_000) {}

  /** The last schema and table names read that were not the last slot's (a table not cached: skipped). */
  private otherSchema: string | undefined;
  private otherTable: string | undefined;

  /**
   * Reads a schema or table name, reusing the last row's string when equal, or the last other name
   * read: changes of a table the caller skips (decoder.ts) never get a slot, and between a followed
   * table's they would otherwise cost a new string each.
   */
  readName(r: JsonReader, which: 'schema' | 'table'): string {
    const last = this.last;
    if (last !== undefined && r.strEquals(which === 'schema' ? last.schema : last.table))
      return which === 'schema' ? last.schema : last.table;
    const other = which === 'schema' ? this.otherSchema : this.otherTable;
    if (other !== undefined && r.strEquals(other)) return other;
    const s = r.string();
    if (which === 'schema') this.otherSchema = s;
    else this.otherTable = s;
    return s;
  }

  slot(schema: string, table: string): TableSlot {
    const last = this.last;
    if (last !== undefined && last.schema === schema && last.table === table) return last;
    const key = `${schema}\u0000${table}`;
    let s = this.map.get(key);
    if (s === undefined) {
      if (this.map.size >= this.maxTables) this.map.clear();
      s = {
        schema,
        table,
        newImage: emptySlot(),
        oldImage: emptySlot(),
        pk: undefined,
        pkPrinted: undefined,
      };
      this.map.set(key, s);
    }
    this.last = s;
    return s;
  }
}

/** Reusable builders for one image being read (one set per decoder: reading is not reentrant). */
export class ImageBuilder {
  readonly names = new Reuse<string>();
  readonly types = new Reuse<string>();
  readonly typeOids = new Reuse<number>();
  values: Value[] = [];

  start(slot: ImageSlot | undefined): void {
    this.names.start(slot?.names);
    this.types.start(slot?.types);
    this.typeOids.start(slot?.typeOids);
    this.values = [];
  }

  name(r: JsonReader): void {
    readString(r, this.names);
  }

  type(r: JsonReader): void {
    readTypeName(r, this.types);
  }

  /** One value; a malformed one is reported with its column (never its bytes, see errors.ts). */
  value(r: JsonReader): void {
    const i = this.values.length;
    try {
      this.values.push(r.value());
    } catch (err) {
      throw inColumn(err, i, this.names.at(i));
    }
  }

  /** A JSON array of values (v1 columnvalues, keyvalues). */
  valueArray(r: JsonReader): void {
    r.openArray();
    let first = true;
    while (r.nextElem(first)) {
      first = false;
      this.value(r);
    }
  }

  typeOid(r: JsonReader): void {
    const v = r.uint32();
    if (this.typeOids.expected() === v) this.typeOids.hit();
    else this.typeOids.add(v);
  }

  /**
   * Ends the image: checks the parallel arrays agree and remembers them in the slot, with the v2
   * column prefixes they were read with (none: v1, or a row that gave none), always together.
   */
  finish(r: JsonReader, slot: ImageSlot | undefined, what: string, prefixes?: ColumnPrefixes): RowImage {
    const count = this.names.n;
    if (this.values.length !== count) {
      throw r.fail(
        'WALDUCK_WAL2JSON_SHAPE',
        `${what}: ${count} column names but ${this.values.length} values`,
      );
    }
    if (this.types.n !== 0 && this.types.n !== count) {
      throw r.fail('WALDUCK_WAL2JSON_SHAPE', `${what}: ${count} column names but ${this.types.n} types`);
    }
    if (this.typeOids.n !== 0 && this.typeOids.n !== count) {
      throw r.fail(
        'WALDUCK_WAL2JSON_SHAPE',
        `${what}: ${count} column names but ${this.typeOids.n} type OIDs`,
      );
    }
    const hasOids = this.typeOids.n !== 0;
    const names = this.names.finish();
    const types = this.types.finish();
    const typeOids = this.typeOids.finish() as readonly number[];
    const values = this.values;
    this.values = [];
    if (slot !== undefined) {
      slot.names = names;
      slot.types = types;
      if (hasOids) slot.typeOids = typeOids;
      slot.prefixes = prefixes;
    }
    return hasOids ? { names, types, typeOids, values } : { names, types, values };
  }
}

/** Reads a string into a Reuse: compared in place with the cached one first. */
export function readString(r: JsonReader, into: Reuse<string>): void {
  const want = into.expected();
  if (want !== undefined && r.strEquals(want)) {
    into.hit();
    return;
  }
  const s = r.string();
  if (s === want) into.hit();
  else into.add(s);
}

/** Reads a JSON array of strings into a Reuse (v1 columnnames, columntypes, pknames). */
export function readStringArray(r: JsonReader, into: Reuse<string>): void {
  r.openArray();
  let first = true;
  while (r.nextElem(first)) {
    first = false;
    readString(r, into);
  }
}

/** Reads a JSON array of type names (v1 columntypes, keytypes; pktypes with no `into`). */
export function readTypeArray(r: JsonReader, into: Reuse<string> | undefined): void {
  r.openArray();
  let first = true;
  while (r.nextElem(first)) {
    first = false;
    readTypeName(r, into);
  }
}

/** Reads a JSON array of type OIDs into a Reuse (v1 columntypeoids, keytypeoids). */
export function readOidArray(r: JsonReader, into: Reuse<number>): void {
  r.openArray();
  let first = true;
  while (r.nextElem(first)) {
    first = false;
    const v = r.uint32();
    if (into.expected() === v) into.hit();
    else into.add(v);
  }
}
