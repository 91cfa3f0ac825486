// CSV spool files for the snapshot's fast path. `COPY … TO STDOUT (FORMAT csv)` payloads are written
// to disk as they arrive, untouched (PostgreSQL sends exactly one row per CopyData message, so a
// payload boundary is a row boundary), in segments of a few MB; DuckDB's own CSV reader then loads
// each segment with one INSERT … SELECT, on its threads, while the next segment is being received.
// JavaScript never parses a value: it moves bytes.
//
// The spool directory sits beside the DuckDB file (named after it, so only the process holding that
// file's lock uses it) and is removed afterwards; a leftover from a killed run is removed at start.
// Each segment starts with a byte order mark, which DuckDB drops: without it DuckDB would drop a
// U+FEFF that begins the first value of the segment.

import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { LargestRows } from '../sink/commit-window.js';
import type { CsvSegment } from '../sink/csv-load.js';

/** Characters DuckDB's file readers take as a glob pattern (a '?' in a path matched other files). */
const GLOB = /[*?[\]{}]/;
/** DuckDB skips one byte order mark at a file's start: ours, so a value's own U+FEFF survives. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/**
 * A segment's size: 16 MiB measured best here (4, 8 and 32 slower); WALDUCK_SNAPSHOT_SEGMENT_BYTES
 * overrides it (tests use tiny ones).
 */
const SEGMENT_BYTES = Number(process.env.WALDUCK_SNAPSHOT_SEGMENT_BYTES) || 16 * 1024 * 1024;

/** The most buffers one writev takes (Linux's IOV_MAX). */
const IOV_MAX = 1024;

/** Writes every byte of `parts` in order: writev may write less than asked (a full disk says so by throwing). */
function writeAll(fd: number, parts: readonly Buffer[]): void {
  let total = 0;
  for (const p of parts) total += p.length;
  let done = writevSync(fd, parts as Buffer[]);
  if (done === total) return;
  // A short write: finish part by part from where it stopped.
  for (const p of parts) {
    if (done >= p.length) {
      done -= p.length;
      continue;
    }
    for (let off = done; off < p.length; ) off += writeSync(fd, p, off, p.length - off);
    done = 0;
  }
}

export class CsvSpool {
  private seq = 0;

  private constructor(readonly dir: string) {}

  /**
   * The spool for DuckDB file `duckdbPath`: a fresh directory beside it, else (a name DuckDB would
   * read as a glob pattern, or an in-memory database) in the temp directory under a name derived from
   * the file, so a stale one from a killed run is found and removed. Undefined when neither place has
   * a plain name: the caller then parses every row itself.
   */
  static create(duckdbPath: string): CsvSpool | undefined {
    const memory = duckdbPath === ':memory:';
    const abs = resolve(duckdbPath);
    const id = memory ? `memory-${process.pid}` : createHash('sha256').update(abs).digest('hex').slice(0, 16);
    const places = [
      ...(memory ? [] : [join(dirname(abs), `.${basename(abs)}.walduck-snapshot`)]),
      join(tmpdir(), `walduck-snapshot-${id}`),
    ];
    const dir = places.find((d) => !GLOB.test(d));
    if (dir === undefined) return undefined;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    return new CsvSpool(dir);
  }

  open(): SegmentWriter {
    return new SegmentWriter(join(this.dir, `${++this.seq}.csv`));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class SegmentWriter {
  private readonly fd: number;
  rows = 0;
  bytes = 0;
  private maxRowBytes = 0;
  /** For the room DuckDB needs to hold one vector of these rows (sink/commit-window.ts). */
  private readonly largest = new LargestRows();
  private closed = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w', 0o600);
    writeSync(this.fd, BOM);
  }

  /** Big enough to hand to DuckDB. */
  get full(): boolean {
    return this.bytes >= SEGMENT_BYTES;
  }

  /** Appends CopyData payloads (whole rows) with one write; returns their size. */
  write(rows: readonly Buffer[]): number {
    let size = 0;
    for (const r of rows) {
      size += r.length;
      if (r.length > this.maxRowBytes) this.maxRowBytes = r.length;
      this.largest.add(r.length);
    }
    // Straight from the socket's read buffers into the file (writev): joining them first cost a fresh
    // buffer and a copy per batch, and the page faults of that buffer.
    for (let i = 0; i < rows.length; i += IOV_MAX) writeAll(this.fd, rows.slice(i, i + IOV_MAX));
    this.rows += rows.length;
    this.bytes += size;
    return size;
  }

  close(): CsvSegment {
    this.closed = true;
    closeSync(this.fd);
    return {
      path: this.path,
      rows: this.rows,
      bytes: this.bytes,
      maxRowBytes: this.maxRowBytes,
      largestRows: this.largest.sizes(),
    };
  }

  /** Closes and deletes (a segment never loaded: the copy failed). */
  discard(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.path, { force: true });
  }
}
