// format-version 1 as a stream. A v1 transaction is one JSON document:
//   {"xid":735,"nextlsn":"0/1937528","timestamp":"…","change":[{"kind":"insert",…},{…}]}
// sent as one XLogData message, or (write-in-chunks) cut into many messages at arbitrary points. The
// decoder walks the document's top level with a small state machine that resumes at any byte, and
// hands each element of "change" to the same pull reader the v2 decoder uses, in place on the payload.
// Only when an element (or a key, or a header value) runs past the end of a message is it captured:
// an extent scanner follows strings, escapes and nesting across the next messages, the bytes are
// copied once into a reassembly buffer, and the element is read from there. Memory is bounded by the
// largest single change, never by the transaction.
//
// Events: `begin` as soon as the header (xid, timestamp, nextlsn) is known, i.e. at `"change":[`; each
// change when its object closes; `commit` when the document closes. commit.lsn is the header's nextlsn
// (include-lsn), the transaction's end LSN. Measured on PostgreSQL 15 + wal2json 2.5 over the
// replication protocol: with write-in-chunks the message carrying the closing "]}" has dataStart equal
// to nextlsn, but a whole-transaction document arrives with dataStart = the transaction's *start* (the
// walsender stamps the position at which the plugin prepared the write, in its begin callback), so
// only nextlsn is right for both. Without nextlsn, the closing message's lsn is used (and logged once).
// A document without any header field whose
// first change is a non-transactional message (wal2json writes those as their own document) yields the
// messages alone, as v2 does. wal2json 2.5 never writes TRUNCATE in format-version 1.

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Change, RowImage, TableRef } from './change.js';
import {
  BACKSLASH,
  COLON,
  COMMA,
  type JsonReader,
  LBRACE,
  LBRACKET,
  NEED_MORE,
  QUOTE,
  RBRACE,
  RBRACKET,
} from './json-reader.js';
import {
  ImageBuilder,
  type ImageSlot,
  Reuse,
  readOidArray,
  readStringArray,
  readValueArray,
  type TableCache,
  type TableSlot,
} from './row-image.js';

// Where the top level of the document is.
const DOC = 0; // between documents: '{' next
const KEY_FIRST = 1; // after '{': a key or '}'
const KEY = 2; // after ',': a key
const AFTER_KEY = 3; // ':' next
const VALUE = 4; // a header value, or the '[' of "change"
const AFTER_VALUE = 5; // ',' or '}'
const ELEM_FIRST = 6; // after "change":[ — a change or ']'
const ELEM = 7; // after ',': a change
const AFTER_ELEM = 8; // ',' or ']'

// What a value read in place (or captured) is for.
const FOR_KEY = 0;
const FOR_VALUE = 1;
const FOR_ELEM = 2;
type ItemKind = typeof FOR_KEY | typeof FOR_VALUE | typeof FOR_ELEM;

// Whether the open document is a transaction.
const BEGUN_NO = 0;
const BEGUN_TXN = 1;
const BEGUN_BARE = 2; // a non-transactional message's own document: no begin/commit

const KIND_INSERT = 1;
const KIND_UPDATE = 2;
const KIND_DELETE = 3;
const KIND_MESSAGE = 4;

export interface V1Limits {
  readonly maxDepth: number;
  readonly maxStringBytes: number;
  readonly maxChangeBytes: number;
}

export class V1Stream {
  private state = DOC;
  private key = '';
  private xid: number | undefined;
  private commitTime: string | undefined;
  private endLsn: Lsn | undefined;
  private begun = BEGUN_NO;
  /** Whether the open document had its "change" array: without one it is not a v1 document. */
  private sawChange = false;
  private capturing: ItemKind | -1 = -1;
  private readonly capture: Capture;
  private lsn: Lsn = 0n;
  /** Events ready to yield (at most a begin, a change and a commit per step). */
  readonly out: Change[] = [];
  private readonly newImage: ImageBuilder;
  private readonly oldImage = new ImageBuilder();
  private readonly pkNames = new Reuse<string>();
  private strayCommaLogged = false;
  private noNextLsnLogged = false;

  constructor(
    private readonly r: JsonReader,
    private readonly assembled: JsonReader,
    private readonly tables: TableCache,
    image: ImageBuilder,
    limits: V1Limits,
    private readonly log?: (msg: string) => void,
  ) {
    this.newImage = image;
    this.capture = new Capture(limits);
  }

  /** A document is open (its closing brace not seen yet). */
  get open(): boolean {
    return this.state !== DOC;
  }

  /** Starts on a payload: the reader is reset on it (not final). Then call step() until it is false. */
  start(payload: Uint8Array, lsn: Lsn): void {
    this.lsn = lsn;
    this.r.reset(payload, false, lsn);
    if (this.capturing !== -1) this.continueCapture();
  }

  /** Advances by one token or item; false once the payload is used up. Events land in `out`. */
  step(): boolean {
    if (this.capturing !== -1) return false;
    const r = this.r;
    if (r.atEnd()) return false;
    const c = r.bytes[r.pos]!;
    switch (this.state) {
      case DOC:
        if (c !== LBRACE)
          throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected "{" to open a format-version 1 document');
        r.pos++;
        this.xid = undefined;
        this.commitTime = undefined;
        this.endLsn = undefined;
        this.begun = BEGUN_NO;
        this.sawChange = false;
        this.state = KEY_FIRST;
        return true;
      case KEY_FIRST:
        if (c === RBRACE) {
          r.pos++;
          this.closeDocument();
          return true;
        }
        return this.keyAt(c);
      case KEY:
        return this.keyAt(c);
      case AFTER_KEY:
        if (c !== COLON) throw r.fail('WALDUCK_WAL2JSON_SYNTAX', "expected ':'");
        r.pos++;
        this.state = VALUE;
        return true;
      case VALUE:
        if (this.key === 'change') {
          if (c !== LBRACKET) throw r.wrongType('"change" to be an array');
          r.pos++;
          this.state = ELEM_FIRST;
          this.sawChange = true;
          const header = this.xid !== undefined || this.commitTime !== undefined || this.endLsn !== undefined;
          if (header && this.begun === BEGUN_NO) this.begin();
          return true;
        }
        return this.item(FOR_VALUE);
      case AFTER_VALUE:
        if (c === COMMA) this.state = KEY;
        else if (c === RBRACE) this.closeDocument();
        else throw r.fail('WALDUCK_WAL2JSON_SYNTAX', "expected ',' or '}'");
        r.pos++;
        return true;
      case ELEM_FIRST:
        if (c === RBRACKET) {
          r.pos++;
          this.state = AFTER_VALUE;
          return true;
        }
        if (c === COMMA) {
          // wal2json 2.5 writes a non-transactional message's own document as {"change":[,{…}]} when
          // the transaction before it had changes (its "first change" flag is stale). Tolerated here
          // only: a comma right after '[' and before an element.
          r.pos++;
          this.state = ELEM;
          if (!this.strayCommaLogged) {
            this.strayCommaLogged = true;
            this.log?.(
              'wal2json wrote a document with a comma right after "change":[ (a known wal2json 2.5 quirk); accepted',
            );
          }
          return true;
        }
        return this.item(FOR_ELEM);
      case ELEM:
        return this.item(FOR_ELEM);
      case AFTER_ELEM:
        if (c === COMMA) this.state = ELEM;
        else if (c === RBRACKET) this.state = AFTER_VALUE;
        else throw r.fail('WALDUCK_WAL2JSON_SYNTAX', "expected ',' or ']'");
        r.pos++;
        return true;
      default:
        throw r.fail('WALDUCK_WAL2JSON_SYNTAX', `internal: bad state ${this.state}`);
    }
  }

  private keyAt(c: number): boolean {
    if (c !== QUOTE) throw this.r.fail('WALDUCK_WAL2JSON_SYNTAX', 'expected a key');
    return this.item(FOR_KEY);
  }

  /** Reads a key, header value or change in place; captures it when it runs past the payload. */
  private item(kind: ItemKind): boolean {
    const r = this.r;
    const start = r.pos;
    try {
      this.read(r, kind);
      return true;
    } catch (err) {
      if (err !== NEED_MORE) throw err;
    }
    this.capturing = kind;
    this.capture.begin(r.bytes[start]!, kind === FOR_ELEM ? 2 : 1);
    const end = this.capture.feed(r, start);
    if (end >= 0) this.finishCapture(end);
    return end >= 0;
  }

  private continueCapture(): void {
    const end = this.capture.feed(this.r, 0);
    if (end >= 0) this.finishCapture(end);
  }

  /** The captured value is whole: read it from the reassembly buffer; carry on at `end` in the payload. */
  private finishCapture(end: number): void {
    const kind = this.capturing as ItemKind;
    this.capturing = -1;
    const bytes = this.capture.take();
    const a = this.assembled;
    a.reset(bytes, true, this.lsn, end - bytes.length);
    try {
      this.read(a, kind);
      if (!a.atEnd()) throw a.fail('WALDUCK_WAL2JSON_SYNTAX', 'unexpected bytes after a value');
    } finally {
      a.release();
      this.capture.done();
    }
    this.r.pos = end;
  }

  private read(rd: JsonReader, kind: ItemKind): void {
    switch (kind) {
      case FOR_KEY:
        rd.depth = 1;
        this.key = rd.string();
        this.state = AFTER_KEY;
        return;
      case FOR_VALUE:
        rd.depth = 1;
        this.headerValue(rd);
        this.state = AFTER_VALUE;
        return;
      case FOR_ELEM: {
        rd.depth = 2;
        const ch = this.change(rd);
        this.state = AFTER_ELEM;
        if (this.begun === BEGUN_NO) {
          if (ch.kind === 'message' && !ch.transactional) this.begun = BEGUN_BARE;
          else this.begin();
        }
        this.out.push(ch);
        return;
      }
    }
  }

  private headerValue(rd: JsonReader): void {
    switch (this.key) {
      case 'xid':
        if (rd.isNull()) this.xid = undefined;
        else this.xid = rd.uint32();
        return;
      case 'timestamp':
        if (rd.isNull()) this.commitTime = undefined;
        else this.commitTime = rd.string();
        return;
      case 'nextlsn': {
        const at = rd.pos;
        const text = rd.string();
        const lsn = parseLsn(text);
        if (lsn === undefined)
          throw rd.fail('WALDUCK_WAL2JSON_SHAPE', `bad nextlsn ${JSON.stringify(text)}`, at);
        this.endLsn = lsn;
        return;
      }
      default:
        rd.skip();
    }
  }

  private begin(): void {
    this.begun = BEGUN_TXN;
    this.out.push({
      kind: 'begin',
      lsn: this.lsn,
      ...(this.xid !== undefined && { xid: this.xid }),
      ...(this.commitTime !== undefined && { commitTime: this.commitTime }),
      ...(this.endLsn !== undefined && { endLsn: this.endLsn }),
    });
  }

  private closeDocument(): void {
    if (!this.sawChange) {
      // E.g. a v2 line fed to the v1 decoder: better an error than a begin/commit per line.
      throw this.r.fail('WALDUCK_WAL2JSON_SHAPE', 'format-version 1 document without "change"');
    }
    this.state = DOC;
    if (this.begun === BEGUN_NO) this.begin();
    if (this.begun === BEGUN_TXN) {
      if (this.endLsn === undefined && !this.noNextLsnLogged) {
        this.noNextLsnLogged = true;
        this.log?.(
          'format-version 1 document without "nextlsn": commit falls back to the XLogData position, which for a whole-transaction document is where the transaction began (ask for include-lsn)',
        );
      }
      this.out.push({
        kind: 'commit',
        // The walsender stamps an XLogData with the position at which the plugin *prepared* the write:
        // a whole v1 document is prepared in the begin callback, so its dataStart is the transaction's
        // start, not its end. The header's nextlsn is the end LSN in both v1 modes.
        lsn: this.endLsn ?? this.lsn,
        ...(this.xid !== undefined && { xid: this.xid }),
        ...(this.commitTime !== undefined && { commitTime: this.commitTime }),
      });
    }
  }

  /** One element of "change": {"kind":…,"schema":…,"table":…,"columnnames":[…],…,"oldkeys":{…}} */
  private change(rd: JsonReader): Change {
    rd.openObject();
    let kind = 0;
    let kindAt = 0;
    let schema: string | undefined;
    let table: string | undefined;
    let slot: TableSlot | undefined;
    let newStarted = false;
    let oldImage: RowImage | undefined;
    let pk: readonly string[] | undefined;
    let transactional: boolean | undefined;
    let prefix: string | undefined;
    let content: string | undefined;
    const img = this.newImage;
    let first = true;
    while (rd.nextKey(first)) {
      first = false;
      if (rd.keyIs('kind')) {
        kindAt = rd.pos;
        kind = this.kind(rd);
      } else if (rd.keyIs('schema')) {
        schema = this.tables.readName(rd, 'schema');
      } else if (rd.keyIs('table')) {
        table = this.tables.readName(rd, 'table');
      } else if (rd.keyIs('columnnames')) {
        if (!newStarted) ({ slot, newStarted } = this.startNew(schema, table, slot));
        readStringArray(rd, img.names);
      } else if (rd.keyIs('columntypes')) {
        if (!newStarted) ({ slot, newStarted } = this.startNew(schema, table, slot));
        readStringArray(rd, img.types);
      } else if (rd.keyIs('columntypeoids')) {
        if (!newStarted) ({ slot, newStarted } = this.startNew(schema, table, slot));
        readOidArray(rd, img.typeOids);
      } else if (rd.keyIs('columnvalues')) {
        if (!newStarted) ({ slot, newStarted } = this.startNew(schema, table, slot));
        readValueArray(rd, img.values);
      } else if (rd.keyIs('oldkeys')) {
        slot ??= this.slotFor(schema, table);
        oldImage = this.oldKeys(rd, slot?.oldImage);
      } else if (rd.keyIs('pk')) {
        slot ??= this.slotFor(schema, table);
        pk = this.pk(rd, slot);
      } else if (rd.keyIs('transactional')) {
        transactional = rd.boolean();
      } else if (rd.keyIs('prefix')) {
        prefix = rd.string();
      } else if (rd.keyIs('content')) {
        content = rd.string();
      } else {
        rd.skip();
      }
    }
    const newImage = newStarted ? img.finish(rd, slot?.newImage, 'columnvalues') : undefined;
    const need = <T>(v: T | undefined, field: string): T => {
      if (v === undefined) throw rd.fail('WALDUCK_WAL2JSON_SHAPE', `change without "${field}"`);
      return v;
    };
    const lsn = this.lsn;
    const t = (): TableRef => ({ schema: need(schema, 'schema'), table: need(table, 'table') });
    switch (kind) {
      case KIND_INSERT: {
        const { schema: s, table: tb } = t();
        const row = need(newImage, 'columnvalues');
        return pk === undefined
          ? { kind: 'insert', lsn, schema: s, table: tb, new: row }
          : { kind: 'insert', lsn, schema: s, table: tb, new: row, pk };
      }
      case KIND_UPDATE: {
        const { schema: s, table: tb } = t();
        return {
          kind: 'update',
          lsn,
          schema: s,
          table: tb,
          new: need(newImage, 'columnvalues'),
          ...(oldImage !== undefined && { old: oldImage }),
          ...(pk !== undefined && { pk }),
        };
      }
      case KIND_DELETE: {
        const { schema: s, table: tb } = t();
        const old = need(oldImage, 'oldkeys');
        return pk === undefined
          ? { kind: 'delete', lsn, schema: s, table: tb, old }
          : { kind: 'delete', lsn, schema: s, table: tb, old, pk };
      }
      case KIND_MESSAGE:
        return {
          kind: 'message',
          lsn,
          transactional: need(transactional, 'transactional'),
          prefix: need(prefix, 'prefix'),
          content: need(content, 'content'),
        };
      default:
        throw rd.fail('WALDUCK_WAL2JSON_SHAPE', 'change without "kind"', kindAt);
    }
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

  private startNew(
    schema: string | undefined,
    table: string | undefined,
    slot: TableSlot | undefined,
  ): { slot: TableSlot | undefined; newStarted: true } {
    const s = slot ?? this.slotFor(schema, table);
    this.newImage.start(s?.newImage);
    return { slot: s, newStarted: true };
  }

  private slotFor(schema: string | undefined, table: string | undefined): TableSlot | undefined {
    return schema !== undefined && table !== undefined ? this.tables.slot(schema, table) : undefined;
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
      else if (rd.keyIs('keytypes')) readStringArray(rd, img.types);
      else if (rd.keyIs('keytypeoids')) readOidArray(rd, img.typeOids);
      else if (rd.keyIs('keyvalues')) readValueArray(rd, img.values);
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
      else rd.skip();
    }
    const out = names.finish();
    if (slot !== undefined) slot.pk = out;
    return out;
  }
}

/**
 * Follows one JSON value across messages without parsing it: strings (with escapes), nesting, and
 * the delimiter that ends a bare number or literal. Copies the value's bytes once into a buffer that
 * grows by doubling, bounded by maxChangeBytes; enforces maxDepth and maxStringBytes on the way, so a
 * hostile stream cannot make it buffer without end.
 */
class Capture {
  private buf = new Uint8Array(0);
  private len = 0;
  private depth = 0;
  private baseDepth = 0;
  private inString = false;
  private escape = false;
  private scalar = false;
  /** Position (in the capture) where the open string's body starts. */
  private stringStart = 0;

  constructor(private readonly limits: V1Limits) {}

  begin(first: number, baseDepth: number): void {
    this.len = 0;
    this.depth = 0;
    this.baseDepth = baseDepth;
    this.inString = false;
    this.escape = false;
    this.scalar = first !== QUOTE && first !== LBRACE && first !== LBRACKET;
  }

  /** Scans the reader's payload from `from`; returns where the value ends there, or -1 if it goes on. */
  feed(r: JsonReader, from: number): number {
    const b = r.bytes;
    const e = b.length;
    let i = from;
    let end = -1;
    if (this.scalar) {
      for (; i < e; i++) {
        const x = b[i]!;
        if (
          x === COMMA ||
          x === RBRACE ||
          x === RBRACKET ||
          x === 0x20 ||
          x === 0x0a ||
          x === 0x0d ||
          x === 0x09
        ) {
          end = i;
          break;
        }
      }
    } else {
      let depth = this.depth;
      let inString = this.inString;
      let afterBackslash = this.escape;
      const maxDepth = this.limits.maxDepth - this.baseDepth;
      for (; i < e; i++) {
        const x = b[i]!;
        if (inString) {
          if (afterBackslash) afterBackslash = false;
          else if (x === BACKSLASH) afterBackslash = true;
          else if (x === QUOTE) {
            inString = false;
            this.checkString(r, this.len + (i - from), i);
            if (depth === 0) {
              end = i + 1;
              break;
            }
          }
        } else if (x === QUOTE) {
          inString = true;
          this.stringStart = this.len + (i - from) + 1;
        } else if (x === LBRACE || x === LBRACKET) {
          if (++depth > maxDepth) {
            throw r.fail('WALDUCK_WAL2JSON_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`, i);
          }
        } else if (x === RBRACE || x === RBRACKET) {
          if (--depth <= 0) {
            if (depth < 0) throw r.fail('WALDUCK_WAL2JSON_SYNTAX', 'unbalanced closing bracket', i);
            end = i + 1;
            break;
          }
        }
      }
      this.depth = depth;
      this.inString = inString;
      this.escape = afterBackslash;
      if (end < 0 && inString) this.checkString(r, this.len + (e - from), e);
    }
    this.append(r, b, from, end < 0 ? e : end);
    return end;
  }

  private checkString(r: JsonReader, upTo: number, at: number): void {
    if (upTo - this.stringStart > this.limits.maxStringBytes) {
      throw r.fail('WALDUCK_WAL2JSON_TOO_LONG', `string longer than ${this.limits.maxStringBytes} bytes`, at);
    }
  }

  private append(r: JsonReader, b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n === 0) return;
    const need = this.len + n;
    if (need > this.limits.maxChangeBytes) {
      throw r.fail(
        'WALDUCK_WAL2JSON_TOO_LONG',
        `one change larger than ${this.limits.maxChangeBytes} bytes`,
        to,
      );
    }
    if (need > this.buf.length) {
      const grown = new Uint8Array(
        Math.min(this.limits.maxChangeBytes, Math.max(need, this.buf.length * 2, 4096)),
      );
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(b.subarray(from, to), this.len);
    this.len = need;
  }

  take(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** After use: a buffer grown for one huge change is not kept for the rest of the stream. */
  done(): void {
    this.len = 0;
    if (this.buf.length > 1 << 20) this.buf = new Uint8Array(0);
  }
}
