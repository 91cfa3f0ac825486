// format-version 1 as a stream: the document state machine. A v1 transaction is one JSON document:
//   {"xid":735,"nextlsn":"0/1937528","timestamp":"…","change":[{"kind":"insert",…},{…}]}
// sent as one XLogData message, or (write-in-chunks) cut into many messages at arbitrary points. The
// decoder walks the document's top level with a small state machine that resumes at any byte, and
// hands each element of "change" to the same pull reader the v2 decoder uses, in place on the payload
// (v1-change.ts maps it to an event). Only when an element (or a key, or a header value) runs past the
// end of a message is it captured (v1-capture.ts): an extent scanner follows strings, escapes and
// nesting across the next messages, the bytes are copied once into a reassembly buffer, and the
// element is read from there. Memory is bounded by the largest single change, never by the transaction.
//
// Events: `begin` as soon as the header (xid, timestamp, nextlsn) is known, i.e. at `"change":[`; each
// change when its object closes; `commit` when the document closes. commit.lsn is the header's nextlsn
// (include-lsn), the transaction's end LSN. Measured on PostgreSQL 15 + wal2json 2.5 over the
// replication protocol: with write-in-chunks the message carrying the closing "]}" has dataStart equal
// to nextlsn, but a whole-transaction document arrives with dataStart = the transaction's *start* (the
// walsender stamps the position at which the plugin prepared the write, in its begin callback), so
// only nextlsn is right for both. Without nextlsn, the closing message's lsn is used (and logged once).
// A document without any header field whose first change is a non-transactional message (wal2json writes those as their own document) yields the
// messages alone, as v2 does. wal2json 2.5 never writes TRUNCATE in format-version 1.
// A change the caller's skip declines (v1-change.ts) yields nothing; it is asked only once the
// document's begin was yielded (and so handled), never for the change that would carry the begin.

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Change } from './change.js';
import { beginEvent, commitEvent } from './events.js';
import type { JsonReader } from './json-reader.js';
import { COLON, COMMA, LBRACE, LBRACKET, NEED_MORE, QUOTE, RBRACE, RBRACKET } from './json-reader-state.js';
import type { ImageBuilder, TableCache } from './row-image.js';
import { Capture, type V1Limits } from './v1-capture.js';
import { V1ChangeReader } from './v1-change.js';
import type { SkipTable } from './v2.js';

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
  private readonly changes: V1ChangeReader;
  private strayCommaLogged = false;
  private noNextLsnLogged = false;
  /** Row changes dropped unread (skip declined their table). */
  skipped = 0;

  constructor(
    private readonly r: JsonReader,
    private readonly assembled: JsonReader,
    tables: TableCache,
    image: ImageBuilder,
    limits: V1Limits,
    private readonly log?: (msg: string) => void,
    skip?: SkipTable,
  ) {
    this.changes = new V1ChangeReader(tables, image, skip);
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
        const ch = this.changes.read(rd, this.lsn, this.begun !== BEGUN_NO);
        this.state = AFTER_ELEM;
        if (ch === undefined) {
          this.skipped++;
          return;
        }
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
    this.out.push(beginEvent(this.lsn, this.xid, this.commitTime, this.endLsn));
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
      // The walsender stamps an XLogData with the position at which the plugin *prepared* the write:
      // a whole v1 document is prepared in the begin callback, so its dataStart is the transaction's
      // start, not its end. The header's nextlsn is the end LSN in both v1 modes.
      this.out.push(commitEvent(this.endLsn ?? this.lsn, this.xid, this.commitTime));
    }
  }
}
