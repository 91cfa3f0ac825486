// format-version 2: one JSON object per XLogData message, `action` saying what it is:
//   B begin · C commit · I insert · U update · D delete · T truncate (one table per line) · M message
//   {"action":"I","xid":735,"timestamp":"…","lsn":"0/1937208","schema":"public","table":"t",
//    "columns":[{"name":"id","type":"integer","typeoid":23,"value":1}],"identity":[…],"pk":[…]}
// Field order does not matter and unknown fields are skipped (forward compatibility); an unknown
// action is an error, because skipping it could skip data. Mapping: src/wal2json/README.md.
//
// A row change of a table the caller does not want (DecoderOptions.skip, asked once its action,
// schema and table are read, which wal2json writes before the row) is not read further: a line is one
// whole message, so its object ends at its last byte (JsonReader.skipLine); decode() returns undefined.

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Change, RowImage } from './change.js';
import { beginEvent, ChangeFields, commitEvent } from './events.js';
import type { JsonReader } from './json-reader.js';
import { type ImageBuilder, Reuse, readString, type TableCache, type TableSlot } from './row-image.js';

/** Whether a row change of this table may be dropped unread (see DecoderOptions.skip). */
export type SkipTable = (schema: string, table: string) => boolean;

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
  private readonly f: ChangeFields;

  constructor(
    private readonly r: JsonReader,
    private readonly tables: TableCache,
    private readonly image: ImageBuilder,
    private readonly skip?: SkipTable,
  ) {
    this.f = new ChangeFields(tables, { row: 'columns', old: 'identity' });
  }

  /** Decodes one v2 line (undefined: a row change `skip` declined); the reader must be reset (final) on the payload. */
  decode(lsn: Lsn): Change | undefined {
    const r = this.r;
    const f = this.f;
    f.reset();
    r.openObject();
    let action = 0;
    let actionAt = 0;
    let xid: number | undefined;
    let commitTime: string | undefined;
    let endLsn: Lsn | undefined;
    let first = true;
    // Asked once: when action, schema and table are all known, before any row is read.
    let asked = this.skip === undefined;
    while (r.nextKey(first)) {
      first = false;
      if (!asked && f.table !== undefined && f.schema !== undefined && action !== 0) {
        asked = true;
        if (isRow(action) && this.skip?.(f.schema, f.table)) {
          r.skipLine();
          return undefined;
        }
      }
      if (r.keyIs('action')) {
        actionAt = r.pos;
        const a = r.string();
        action = a.length === 1 && ACTIONS.includes(a) ? a.charCodeAt(0) : -1;
        if (action < 0)
          throw r.fail('WALDUCK_WAL2JSON_UNKNOWN_ACTION', `unknown action ${JSON.stringify(a)}`, actionAt);
      } else if (r.keyIs('xid')) {
        if (!r.isNull()) xid = r.uint32();
      } else if (r.keyIs('timestamp')) {
        // Row lines carry it too (include-timestamp): only begin and commit use it, so no string else.
        if (isRow(action)) r.skip();
        else if (!r.isNull()) commitTime = r.string();
      } else if (r.keyIs('schema')) {
        f.schema = this.tables.readName(r, 'schema');
      } else if (r.keyIs('table')) {
        f.table = this.tables.readName(r, 'table');
      } else if (r.keyIs('columns')) {
        f.newImage = this.columns(f.slot()?.newImage, 'columns');
      } else if (r.keyIs('identity')) {
        f.oldImage = this.columns(f.slot()?.oldImage, 'identity');
      } else if (r.keyIs('pk')) {
        f.pk = this.pk(f.slot());
      } else if (r.keyIs('nextlsn')) {
        const at = r.pos;
        const text = r.string();
        endLsn = parseLsn(text);
        if (endLsn === undefined)
          throw r.fail('WALDUCK_WAL2JSON_SHAPE', `bad nextlsn ${JSON.stringify(text)}`, at);
      } else if (r.keyIs('transactional')) {
        f.transactional = r.boolean();
      } else if (r.keyIs('prefix')) {
        f.prefix = r.string();
      } else if (r.keyIs('content')) {
        f.content = r.string();
      } else {
        r.skip();
      }
    }
    if (!r.atEnd()) throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'bytes after the JSON object');

    switch (action) {
      case ACTION_BEGIN:
        return beginEvent(lsn, xid, commitTime, endLsn);
      case ACTION_COMMIT:
        return commitEvent(lsn, xid, commitTime);
      case ACTION_INSERT:
        return f.insert(r, lsn);
      case ACTION_UPDATE:
        return f.update(r, lsn);
      case ACTION_DELETE:
        return f.delete(r, lsn);
      case ACTION_TRUNCATE:
        return { kind: 'truncate', lsn, tables: [f.tableRef(r)] };
      case ACTION_MESSAGE:
        return f.message(r, lsn);
      case 0:
        throw r.fail('WALDUCK_WAL2JSON_SHAPE', 'object without "action"');
      default:
        throw r.fail('WALDUCK_WAL2JSON_UNKNOWN_ACTION', 'unknown action', actionAt);
    }
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
        else if (r.keyIs('value')) img.value(r);
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

function isRow(action: number): boolean {
  return action === ACTION_INSERT || action === ACTION_UPDATE || action === ACTION_DELETE;
}
