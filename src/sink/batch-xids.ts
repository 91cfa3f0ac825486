// The source transactions committed in the open DuckDB batch, kept by the sink alone. Two readers:
// the catalog check before a DuckDB commit waits until every one of them is visible to it (a rename
// one of them made must be seen before the batch commits), and the router asks whether a renaming
// transaction is among them (source/renames.ts `passed`). Both need all of them, the newest most:
// none is dropped. The batch is closed instead once it holds MAX_BATCH_XIDS (the sink's `due`), which
// bounds the memory: 4 bytes a transaction.

import type { OpenBatch } from '../source/routing.js';

/** Source transactions in one DuckDB batch at most (400 kB): past it the batch commits at the next one. */
export const MAX_BATCH_XIDS = 100_000;

export class BatchXids implements OpenBatch {
  private buf = new Uint32Array(1024);
  private n = 0;

  push(xid: number): void {
    if (this.n === this.buf.length) {
      const grown = new Uint32Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.n++] = xid;
  }

  /** Newest first: a renaming transaction the router asks about is mostly a recent one. */
  has(xid: number): boolean {
    for (let i = this.n - 1; i >= 0; i--) if (this.buf[i] === xid) return true;
    return false;
  }

  get xids(): Uint32Array {
    return this.buf.subarray(0, this.n);
  }

  get size(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n >= MAX_BATCH_XIDS;
  }

  /** The batch committed or rolled back; a large buffer is let go rather than kept for the next. */
  clear(): void {
    this.n = 0;
    if (this.buf.length > 1024 * 16) this.buf = new Uint32Array(1024);
  }
}
