// format-version 2: one JSON object per XLogData message, `action` saying what it is:
//   B begin · C commit · I insert · U update · D delete · T truncate (one table per line) · M message
//   {"action":"I","xid":735,"timestamp":"…","lsn":"0/1937208","schema":"public","table":"t",
//    "columns":[{"name":"id","type":"integer","typeoid":23,"value":1}],"identity":[…],"pk":[…]}
// Field order does not matter and unknown fields are skipped (forward compatibility); an unknown
// action is an error, because skipping it could skip data. Mapping: src/wal2json/README.md.

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Change, RowImage, TableRef } from './change.js';
import type { JsonReader } from './json-reader.js';
import { type ImageBuilder, Reuse, readString, type TableCache, type TableSlot } from './row-image.js';

const ACTION_BEGIN = 0x42; // 'B'
const ACTION_COMMIT = 0x43; // 'C'
const ACTION_INSERT = 0x49; // 'I'
const ACTION_UPDATE = 0x55; // 'U'
const ACTION_DELETE = 0x44; // 'D'
const ACTION_TRUNCATE = 0x54; // 'T'
const ACTION_MESSAGE = 0x4d; // 'M'

const ACTIONS = 'BCIUDTM';

export class V2Decoder {
  private readonly pkNames = new Reuse<string>();

  constructor(
    private readonly r: JsonReader,
    private readonly tables: TableCache,
    private readonly image: ImageBuilder,
  ) {}

  /** Decodes one v2 line; the reader must be reset (final) on the payload. */
  decode(lsn: Lsn): Change {
    const r = this.r;
    r.openObject();
    let action = 0;
    let actionAt = 0;
    let xid: number | undefined;
    let commitTime: string | undefined;
    let endLsn: Lsn | undefined;
    let schema: string | undefined;
    let table: string | undefined;
    let slot: TableSlot | undefined;
    let newImage: RowImage | undefined;
    let oldImage: RowImage | undefined;
    let pk: readonly string[] | undefined;
    let transactional: boolean | undefined;
    let prefix: string | undefined;
    let content: string | undefined;
    let first = true;
    while (r.nextKey(first)) {
      first = false;
      if (r.keyIs('action')) {
        actionAt = r.pos;
        const a = r.string();
        action = a.length === 1 && ACTIONS.includes(a) ? a.charCodeAt(0) : -1;
        if (action < 0)
          throw r.fail('WALDUCK_WAL2JSON_UNKNOWN_ACTION', `unknown action ${JSON.stringify(a)}`, actionAt);
      } else if (r.keyIs('xid')) {
        if (!r.isNull()) xid = r.uint32();
      } else if (r.keyIs('timestamp')) {
        if (!r.isNull()) commitTime = r.string();
      } else if (r.keyIs('schema')) {
        schema = this.tables.readName(r, 'schema');
      } else if (r.keyIs('table')) {
        table = this.tables.readName(r, 'table');
      } else if (r.keyIs('columns')) {
        slot ??= this.slotFor(schema, table);
        newImage = this.columns(slot?.newImage, 'columns');
      } else if (r.keyIs('identity')) {
        slot ??= this.slotFor(schema, table);
        oldImage = this.columns(slot?.oldImage, 'identity');
      } else if (r.keyIs('pk')) {
        slot ??= this.slotFor(schema, table);
        pk = this.pk(slot);
      } else if (r.keyIs('nextlsn')) {
        const at = r.pos;
        const text = r.string();
        endLsn = parseLsn(text);
        if (endLsn === undefined)
          throw r.fail('WALDUCK_WAL2JSON_SHAPE', `bad nextlsn ${JSON.stringify(text)}`, at);
      } else if (r.keyIs('transactional')) {
        transactional = r.boolean();
      } else if (r.keyIs('prefix')) {
        prefix = r.string();
      } else if (r.keyIs('content')) {
        content = r.string();
      } else {
        r.skip();
      }
    }
    if (!r.atEnd()) throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'bytes after the JSON object');

    switch (action) {
      case ACTION_BEGIN:
        return {
          kind: 'begin',
          lsn,
          ...(xid !== undefined && { xid }),
          ...(commitTime !== undefined && { commitTime }),
          ...(endLsn !== undefined && { endLsn }),
        };
      case ACTION_COMMIT:
        return {
          kind: 'commit',
          lsn,
          ...(xid !== undefined && { xid }),
          ...(commitTime !== undefined && { commitTime }),
        };
      case ACTION_INSERT: {
        const t = this.tableRef(schema, table);
        const row = this.need(newImage, 'columns');
        return pk === undefined
          ? { kind: 'insert', lsn, schema: t.schema, table: t.table, new: row }
          : { kind: 'insert', lsn, schema: t.schema, table: t.table, new: row, pk };
      }
      case ACTION_UPDATE: {
        const t = this.tableRef(schema, table);
        const row = this.need(newImage, 'columns');
        return {
          kind: 'update',
          lsn,
          schema: t.schema,
          table: t.table,
          new: row,
          ...(oldImage !== undefined && { old: oldImage }),
          ...(pk !== undefined && { pk }),
        };
      }
      case ACTION_DELETE: {
        const t = this.tableRef(schema, table);
        const old = this.need(oldImage, 'identity');
        return pk === undefined
          ? { kind: 'delete', lsn, schema: t.schema, table: t.table, old }
          : { kind: 'delete', lsn, schema: t.schema, table: t.table, old, pk };
      }
      case ACTION_TRUNCATE:
        return { kind: 'truncate', lsn, tables: [this.tableRef(schema, table)] };
      case ACTION_MESSAGE:
        return {
          kind: 'message',
          lsn,
          transactional: this.need(transactional, 'transactional'),
          prefix: this.need(prefix, 'prefix'),
          content: this.need(content, 'content'),
        };
      case 0:
        throw r.fail('WALDUCK_WAL2JSON_SHAPE', 'object without "action"');
      default:
        throw r.fail('WALDUCK_WAL2JSON_UNKNOWN_ACTION', 'unknown action', actionAt);
    }
  }

  private slotFor(schema: string | undefined, table: string | undefined): TableSlot | undefined {
    return schema !== undefined && table !== undefined ? this.tables.slot(schema, table) : undefined;
  }

  private tableRef(schema: string | undefined, table: string | undefined): TableRef {
    return { schema: this.need(schema, 'schema'), table: this.need(table, 'table') };
  }

  private need<T>(v: T | undefined, field: string): T {
    if (v === undefined) throw this.r.fail('WALDUCK_WAL2JSON_SHAPE', `missing "${field}"`);
    return v;
  }

  /** "columns" / "identity": [{"name":…,"type":…,"typeoid":…,"value":…}, …] */
  private columns(slot: TableSlot['newImage'] | undefined, what: string): RowImage {
    const r = this.r;
    const img = this.image;
    img.start(slot);
    r.openArray();
    let firstCol = true;
    while (r.nextElem(firstCol)) {
      firstCol = false;
      r.openObject();
      const before = img.names.n;
      const valuesBefore = img.values.length;
      let first = true;
      while (r.nextKey(first)) {
        first = false;
        if (r.keyIs('name')) img.name(r);
        else if (r.keyIs('type')) img.type(r);
        else if (r.keyIs('value')) img.values.push(r.value());
        else if (r.keyIs('typeoid')) img.typeOid(r);
        else r.skip();
      }
      if (img.names.n !== before + 1 || img.values.length !== valuesBefore + 1) {
        throw r.fail('WALDUCK_WAL2JSON_SHAPE', `${what}: a column needs exactly one "name" and one "value"`);
      }
    }
    return img.finish(r, slot, what);
  }

  /** "pk": [{"name":…,"type":…,"typeoid":…}, …] — only the names are kept. */
  private pk(slot: TableSlot | undefined): readonly string[] {
    const r = this.r;
    const names = this.pkNames;
    names.start(slot?.pk);
    r.openArray();
    let firstCol = true;
    while (r.nextElem(firstCol)) {
      firstCol = false;
      r.openObject();
      let first = true;
      while (r.nextKey(first)) {
        first = false;
        if (r.keyIs('name')) readString(r, names);
        else r.skip();
      }
    }
    const out = names.finish();
    if (slot !== undefined) slot.pk = out;
    return out;
  }
}
