// format-version 2: one JSON object per XLogData message, `action` saying what it is:
//   B begin · C commit · I insert · U update · D delete · T truncate (one table per line) · M message
//   {"action":"I","xid":735,"timestamp":"…","lsn":"0/1937208","schema":"public","table":"t",
//    "columns":[{"name":"id","type":"integer","typeoid":23,"value":1}],"identity":[…],"pk":[…]}
// Field order does not matter and unknown fields are skipped (forward compatibility); an unknown
// action is an error, because skipping it could skip data. Mapping: src/wal2json/README.md.
//
// A row change of a table the caller does not want (DecoderOptions.skip, asked once its action,
// schema and table are read, which wal2json writes before the row) is not read further: a line is one
// whole message, so its object ends at its last byte (skip-unread.ts skipLine); decode() returns undefined.

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Change, RowImage } from './change.js';
import { beginEvent, ChangeFields, commitEvent } from './events.js';
import { type JsonReader, keyTagOf } from './json-reader.js';
import { Reuse } from './reuse.js';
import {
  type ImageBuilder,
  type ImageSlot,
  readString,
  type TableCache,
  type TableSlot,
} from './row-image.js';
import { skipLine } from './skip-unread.js';
import { skipTypeName } from './type-name.js';
import { PrefixRecorder, PrintedPk } from './v2-prefix.js';

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

const K_ACTION = keyTagOf('action');
const K_XID = keyTagOf('xid');
const K_TIMESTAMP = keyTagOf('timestamp');
const K_SCHEMA = keyTagOf('schema');
const K_TABLE = keyTagOf('table');
const K_COLUMNS = keyTagOf('columns');
const K_IDENTITY = keyTagOf('identity');
const K_PK = keyTagOf('pk');
const K_NEXTLSN = keyTagOf('nextlsn');
const K_TRANSACTIONAL = keyTagOf('transactional');
const K_PREFIX = keyTagOf('prefix');
const K_CONTENT = keyTagOf('content');

export class V2Decoder {
  private readonly pkNames = new Reuse<string>();
  private readonly prefixes = new PrefixRecorder();
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
          skipLine(r);
          return undefined;
        }
      }
      // The tag picks the one candidate; keyIs confirms it.
      const k = r.keyTag();
      if (k === K_ACTION && r.keyIs('action')) {
        actionAt = r.pos;
        // One plain character, as wal2json prints it, without making a string; else the general way.
        const c = r.asciiChar();
        const a = c < 0 ? r.string() : String.fromCharCode(c);
        action = a.length === 1 && ACTIONS.includes(a) ? a.charCodeAt(0) : -1;
        if (action < 0)
          throw r.fail('WALDUCK_WAL2JSON_UNKNOWN_ACTION', `unknown action ${JSON.stringify(a)}`, actionAt);
      } else if (k === K_XID && r.keyIs('xid')) {
        if (!r.isNull()) xid = r.uint32();
      } else if (k === K_TIMESTAMP && r.keyIs('timestamp')) {
        // Row lines carry it too (include-timestamp): only begin and commit use it, so no string else.
        if (isRow(action)) r.skip();
        else if (!r.isNull()) commitTime = r.string();
      } else if (k === K_SCHEMA && r.keyIs('schema')) {
        f.schema = this.tables.readName(r, 'schema');
      } else if (k === K_TABLE && r.keyIs('table')) {
        f.table = this.tables.readName(r, 'table');
      } else if (k === K_COLUMNS && r.keyIs('columns')) {
        f.newImage = this.columns(f.slot()?.newImage, 'columns');
      } else if (k === K_IDENTITY && r.keyIs('identity')) {
        f.oldImage = this.columns(f.slot()?.oldImage, 'identity');
      } else if (k === K_PK && r.keyIs('pk')) {
        f.pk = this.pk(f.slot());
      } else if (k === K_NEXTLSN && r.keyIs('nextlsn')) {
        const at = r.pos;
        const text = r.string();
        endLsn = parseLsn(text);
        if (endLsn === undefined)
          throw r.fail('WALDUCK_WAL2JSON_SHAPE', `bad nextlsn ${JSON.stringify(text)}`, at);
      } else if (k === K_TRANSACTIONAL && r.keyIs('transactional')) {
        f.transactional = r.boolean();
      } else if (k === K_PREFIX && r.keyIs('prefix')) {
        f.prefix = r.string();
      } else if (k === K_CONTENT && r.keyIs('content')) {
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

  /**
   * "columns" / "identity": [{"name":…,"type":…,"typeoid":…,"value":…}, …]. While a row's columns
   * start with the bytes the table's last row printed before each value, only values are read
   * (v2-prefix.ts); from the first column that does not, the plain way, recording.
   */
  private columns(slot: ImageSlot | undefined, what: string): RowImage {
    const r = this.r;
    const img = this.image;
    const rec = this.prefixes;
    img.start(slot);
    const known = slot?.prefixes;
    rec.start(known);
    let fast = known !== undefined;
    r.openArray();
    let i = 0;
    while (r.nextElem(i === 0)) {
      const before = img.names.n;
      const valuesBefore = img.values.length;
      let first = true;
      let more = true;
      if (fast && i < known!.count && r.openObjectIfPrefix(known!, known!.start(i), known!.ends[i]!)) {
        // The same bytes as the last row's column i up to its value: its name, type and OID (v2-prefix.ts).
        const keys = known!.keys;
        img.names.hit();
        if (keys & TYPE) img.types.hit();
        if (keys & OID) img.typeOids.hit();
        rec.matched();
        img.value(r);
        first = false;
      } else {
        fast = false;
        r.openObject();
        const open = r.pos - 1;
        // Keys read before "value", one bit each; anything else read there makes the prefix unusable.
        let seen = 0;
        for (;;) {
          more = r.nextKey(first);
          if (!more) break;
          first = false;
          if (r.keyIs('name')) {
            seen = seen & NAME ? OTHER : seen | NAME;
            img.name(r);
          } else if (r.keyIs('type')) {
            seen = seen & TYPE ? OTHER : seen | TYPE;
            img.type(r);
          } else if (r.keyIs('value')) {
            if (seen & NAME && !(seen & OTHER)) rec.add(r.bytes, open, r.pos, seen);
            else rec.miss();
            seen = OTHER;
            img.value(r);
            break;
          } else if (r.keyIs('typeoid')) {
            seen = seen & OID ? OTHER : seen | OID;
            img.typeOid(r);
          } else {
            seen = OTHER;
            r.skip();
          }
        }
        // Without "value" the object is closed here, and the check below refuses the column.
        if (!more) rec.miss();
      }
      while (more && r.nextKey(first)) {
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
      i++;
    }
    const prefixes = rec.finish(img.names.n);
    return img.finish(r, slot, what, prefixes);
  }

  /**
   * "pk": [{"name":…,"type":…,"typeoid":…}, …] — only the names are kept. The same bytes as the
   * table's last "pk" are the same names, taken as they are (v2-prefix.ts).
   */
  private pk(slot: TableSlot | undefined): readonly string[] {
    const r = this.r;
    const printed = slot?.pkPrinted;
    if (printed !== undefined && r.skipIfNext(printed, 0, printed.bytes.length)) return printed.names;
    const names = this.pkNames;
    names.start(slot?.pk);
    r.openArray();
    const start = r.pos - 1;
    let firstCol = true;
    while (r.nextElem(firstCol)) {
      firstCol = false;
      r.openObject();
      let first = true;
      while (r.nextKey(first)) {
        first = false;
        if (r.keyIs('name')) readString(r, names);
        else if (r.keyIs('type')) skipTypeName(r);
        else r.skip();
      }
    }
    const out = names.finish();
    if (slot !== undefined) {
      slot.pk = out;
      slot.pkPrinted = new PrintedPk(r.bytes.slice(start, r.pos), out);
    }
    return out;
  }
}

/** Keys of a column object read before its "value" (see columns; ColumnPrefixes.keys). */
const NAME = 1;
const TYPE = 2;
const OID = 4;
const OTHER = 8;

function isRow(action: number): boolean {
  return action === ACTION_INSERT || action === ACTION_UPDATE || action === ACTION_DELETE;
}
