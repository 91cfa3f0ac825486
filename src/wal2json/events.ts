// Building change events, for both formats. A v2 line and a v1 change element name the same things
// under other keys ("columns"/"columnvalues", "identity"/"oldkeys"); each format's reader reads its
// keys, in whatever order they come, into a ChangeFields, and the event is built here, with one rule
// for what each kind of event needs. So both formats yield equal events for equal changes, and refuse
// an incomplete one alike (WALDUCK_WAL2JSON_SHAPE, naming the missing field in the format's own key).

import type { Lsn } from '../protocol/lsn.js';
import type {
  Begin,
  Commit,
  Delete,
  Insert,
  Message,
  PrimaryKey,
  RowImage,
  TableRef,
  Update,
} from './change.js';
import type { JsonReader } from './json-reader.js';
import type { TableCache, TableSlot } from './row-image.js';

/** The format's own names of the row images, for the error that says one is missing. */
export interface ImageKeys {
  /** The new row: v2 "columns", v1 "columnvalues". */
  readonly row: string;
  /** The old row's identity: v2 "identity", v1 "oldkeys". */
  readonly old: string;
}

/** What one change said, gathered field by field; reset before each change (one per decoder). */
export class ChangeFields {
  schema: string | undefined;
  table: string | undefined;
  newImage: RowImage | undefined;
  oldImage: RowImage | undefined;
  pk: PrimaryKey | undefined;
  transactional: boolean | undefined;
  prefix: string | undefined;
  content: string | undefined;
  private tableSlot: TableSlot | undefined;

  constructor(
    private readonly tables: TableCache,
    private readonly keys: ImageKeys,
  ) {}

  reset(): void {
    this.schema = undefined;
    this.table = undefined;
    this.newImage = undefined;
    this.oldImage = undefined;
    this.pk = undefined;
    this.transactional = undefined;
    this.prefix = undefined;
    this.content = undefined;
    this.tableSlot = undefined;
  }

  /**
   * The table's cache slot (whose arrays the images reuse), once schema and table are both known.
   * wal2json writes them first, but the order is not promised: before then, images are read uncached.
   */
  slot(): TableSlot | undefined {
    if (this.tableSlot === undefined && this.schema !== undefined && this.table !== undefined)
      this.tableSlot = this.tables.slot(this.schema, this.table);
    return this.tableSlot;
  }

  /** The slot as far as slot() found it so far (undefined while schema or table was not known). */
  get knownSlot(): TableSlot | undefined {
    return this.tableSlot;
  }

  /** A field the event cannot do without; `rd` is the reader the change was read from (for the offset). */
  need<T>(rd: JsonReader, v: T | undefined, field: string): T {
    if (v === undefined) throw rd.fail('WALDUCK_WAL2JSON_SHAPE', `change without "${field}"`);
    return v;
  }

  tableRef(rd: JsonReader): TableRef {
    return { schema: this.need(rd, this.schema, 'schema'), table: this.need(rd, this.table, 'table') };
  }

  insert(rd: JsonReader, lsn: Lsn): Insert {
    const t = this.tableRef(rd);
    const row = this.need(rd, this.newImage, this.keys.row);
    const pk = this.pk;
    return pk === undefined
      ? { kind: 'insert', lsn, schema: t.schema, table: t.table, new: row }
      : { kind: 'insert', lsn, schema: t.schema, table: t.table, new: row, pk };
  }

  update(rd: JsonReader, lsn: Lsn): Update {
    const t = this.tableRef(rd);
    const row = this.need(rd, this.newImage, this.keys.row);
    return {
      kind: 'update',
      lsn,
      schema: t.schema,
      table: t.table,
      new: row,
      ...(this.oldImage !== undefined && { old: this.oldImage }),
      ...(this.pk !== undefined && { pk: this.pk }),
    };
  }

  delete(rd: JsonReader, lsn: Lsn): Delete {
    const t = this.tableRef(rd);
    const old = this.need(rd, this.oldImage, this.keys.old);
    const pk = this.pk;
    return pk === undefined
      ? { kind: 'delete', lsn, schema: t.schema, table: t.table, old }
      : { kind: 'delete', lsn, schema: t.schema, table: t.table, old, pk };
  }

  message(rd: JsonReader, lsn: Lsn): Message {
    return {
      kind: 'message',
      lsn,
      transactional: this.need(rd, this.transactional, 'transactional'),
      prefix: this.need(rd, this.prefix, 'prefix'),
      content: this.need(rd, this.content, 'content'),
    };
  }
}

/** A transaction's begin, with what its header or B line said (each part only when sent). */
export function beginEvent(
  lsn: Lsn,
  xid: number | undefined,
  commitTime: string | undefined,
  endLsn: Lsn | undefined,
): Begin {
  return {
    kind: 'begin',
    lsn,
    ...(xid !== undefined && { xid }),
    ...(commitTime !== undefined && { commitTime }),
    ...(endLsn !== undefined && { endLsn }),
  };
}

/** A transaction's commit; `lsn` is its end LSN (see change.ts). */
export function commitEvent(lsn: Lsn, xid: number | undefined, commitTime: string | undefined): Commit {
  return {
    kind: 'commit',
    lsn,
    ...(xid !== undefined && { xid }),
    ...(commitTime !== undefined && { commitTime }),
  };
}
