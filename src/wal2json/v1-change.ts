// format-version 1: one element of a document's "change" array, mapped to a change event.
//   {"kind":"insert","schema":"public","table":"t","columnnames":[…],"columntypes":[…],
//    "columntypeoids":[…],"columnvalues":[…],"oldkeys":{"keynames":[…],…,"keyvalues":[…]},
//    "pk":{"pknames":[…],"pktypes":[…]}}
// and {"kind":"message","transactional":…,"prefix":…,"content":…}. The parallel arrays are read into
// the row-image builders; the event itself is built by events.ts, as for format-version 2. Mapping:
// src/wal2json/README.md.
// wal2json writes "kind", "schema" and "table" first: a row change the caller's skip declines is
// then walked over to its closing brace unread (skip-unread.ts skipRest), and read() returns undefined.

import type { Lsn } from '../protocol/lsn.js';
import type { Change, RowImage } from './change.js';
import { ChangeFields } from './events.js';
import type { JsonReader } from './json-reader.js';
import { Reuse } from './reuse.js';
import {
  ImageBuilder,
  type ImageSlot,
  readOidArray,
  readStringArray,
  readTypeArray,
  type TableCache,
  type TableSlot,
} from './row-image.js';
import { skipRest } from './skip-unread.js';
import type { SkipTable } from './v2.js';

const KIND_INSERT = 1;
const KIND_UPDATE = 2;
const KIND_DELETE = 3;
const KIND_MESSAGE = 4;

export class V1ChangeReader {
  private readonly f: ChangeFields;
  private readonly oldImage = new ImageBuilder();
  private readonly pkNames = new Reuse<string>();
  /** Whether the element being read had one of the new row's arrays yet. */
  private newStarted = false;

  constructor(
    private readonly tables: TableCache,
    private readonly newImage: ImageBuilder,
    private readonly skip?: SkipTable,
  ) {
    this.f = new ChangeFields(tables, { row: 'columnvalues', old: 'oldkeys' });
  }

  /**
   * Reads one element of "change" from `rd` (positioned at it); `lsn` is the event's. With `maySkip`,
   * a row change whose table `skip` declines is passed over unread: undefined.
   */
  read(rd: JsonReader, lsn: Lsn, maySkip = false): Change | undefined {
    const f = this.f;
    f.reset();
    rd.openObject();
    let kind = 0;
    let kindAt = 0;
    this.newStarted = false;
    const img = this.newImage;
    let first = true;
    // Asked once: when kind, schema and table are all known, before any row array is read.
    let asked = !maySkip || this.skip === undefined;
    while (rd.nextKey(first)) {
      first = false;
      if (!asked && f.table !== undefined && f.schema !== undefined && kind !== 0) {
        asked = true;
        if (kind !== KIND_MESSAGE && this.skip?.(f.schema, f.table)) {
          skipRest(rd);
          return undefined;
        }
      }
      if (rd.keyIs('kind')) {
        kindAt = rd.pos;
        kind = this.kind(rd);
      } else if (rd.keyIs('schema')) {
        f.schema = this.tables.readName(rd, 'schema');
      } else if (rd.keyIs('table')) {
        f.table = this.tables.readName(rd, 'table');
      } else if (rd.keyIs('columnnames')) {
        this.startNew();
        readStringArray(rd, img.names);
      } else if (rd.keyIs('columntypes')) {
        this.startNew();
        readTypeArray(rd, img.types);
      } else if (rd.keyIs('columntypeoids')) {
        this.startNew();
        readOidArray(rd, img.typeOids);
      } else if (rd.keyIs('columnvalues')) {
        this.startNew();
        img.valueArray(rd);
      } else if (rd.keyIs('oldkeys')) {
        f.oldImage = this.oldKeys(rd, f.slot()?.oldImage);
      } else if (rd.keyIs('pk')) {
        f.pk = this.pk(rd, f.slot());
      } else if (rd.keyIs('transactional')) {
        f.transactional = rd.boolean();
      } else if (rd.keyIs('prefix')) {
        f.prefix = rd.string();
      } else if (rd.keyIs('content')) {
        f.content = rd.string();
      } else {
        rd.skip();
      }
    }
    if (this.newStarted) f.newImage = img.finish(rd, f.knownSlot?.newImage, 'columnvalues');
    switch (kind) {
      case KIND_INSERT:
        return f.insert(rd, lsn);
      case KIND_UPDATE:
        return f.update(rd, lsn);
      case KIND_DELETE:
        return f.delete(rd, lsn);
      case KIND_MESSAGE:
        return f.message(rd, lsn);
      default:
        throw rd.fail('WALDUCK_WAL2JSON_SHAPE', 'change without "kind"', kindAt);
    }
  }

  /** The new row's four arrays arrive as separate keys: the builder starts at the first of them. */
  private startNew(): void {
    if (this.newStarted) return;
    this.newImage.start(this.f.slot()?.newImage);
    this.newStarted = true;
  }

  private kind(rd: JsonReader): number {
    if (rd.strEquals('insert')) return KIND_INSERT;
    if (rd.strEquals('update')) return KIND_UPDATE;
    if (rd.strEquals('delete')) return KIND_DELETE;
    if (rd.strEquals('message')) return KIND_MESSAGE;
    const at = rd.pos;
    const k = rd.string();
    throw rd.fail('WALDUCK_WAL2JSON_UNKNOWN_ACTION', `unknown change kind ${JSON.stringify(k)}`, at);
  }

  /** "oldkeys": {"keynames":[…],"keytypes":[…],"keytypeoids":[…],"keyvalues":[…]} */
  private oldKeys(rd: JsonReader, slot: ImageSlot | undefined): RowImage {
    const img = this.oldImage;
    img.start(slot);
    rd.openObject();
    let first = true;
    while (rd.nextKey(first)) {
      first = false;
      if (rd.keyIs('keynames')) readStringArray(rd, img.names);
      else if (rd.keyIs('keytypes')) readTypeArray(rd, img.types);
      else if (rd.keyIs('keytypeoids')) readOidArray(rd, img.typeOids);
      else if (rd.keyIs('keyvalues')) img.valueArray(rd);
      else rd.skip();
    }
    return img.finish(rd, slot, 'oldkeys');
  }

  /** "pk": {"pknames":[…],"pktypes":[…]} — only the names are kept. */
  private pk(rd: JsonReader, slot: TableSlot | undefined): readonly string[] {
    const names = this.pkNames;
    names.start(slot?.pk);
    rd.openObject();
    let first = true;
    while (rd.nextKey(first)) {
      first = false;
      if (rd.keyIs('pknames')) readStringArray(rd, names);
      else if (rd.keyIs('pktypes')) readTypeArray(rd, undefined);
      else rd.skip();
    }
    const out = names.finish();
    if (slot !== undefined) slot.pk = out;
    return out;
  }
}
