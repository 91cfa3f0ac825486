// The contract between the replication loop and whatever stores the changes. DuckDbSink implements
// it; a caller can bring its own (examples/jsonl-sink.mjs writes JSON lines) through
// `replicate({ sink })` and get the same exactly-once guarantee, provided it keeps this one promise:
// the LSN that `commit()` returns is stored durably *together with* every change applied before it,
// in one atomic step. The loop tells the server an LSN is flushed only after `commit()` has returned it.
//
// Nothing here names DuckDB, so a DuckLake target (ATTACH 'ducklake:…': a catalog database plus
// Parquet files) is a second implementation beside DuckDbSink, not a change to the loop: the same
// staging and apply SQL against the attached catalog, with the state row in the same catalog, so that
// one DuckLake commit (one snapshot) carries the rows and the LSN together. See README "DuckLake".
//
// A sink is opened before streaming starts; `storedLsn` then says where the stream resumes (0n: a new
// target, and the slot is created). The loop calls, in order: apply() for each change of a source
// transaction (begin … commit), commit() at transaction boundaries when `due` (or at stop), and
// advanceIdle() on keepalives while nothing is pending. rollback() only at shutdown or after an error.

import type { Lsn } from '../protocol/lsn.js';
import type { Change } from '../wal2json/change.js';

export interface ChangeSink {
  /** The LSN durably recorded with the data (0n for a new target): replication resumes after it. */
  readonly storedLsn: Lsn;
  /** Between a source transaction's begin and its commit: committing now would split it. */
  readonly inSourceTransaction: boolean;
  /** Something applied (or an idle advance recorded) that is not durable yet. */
  readonly hasUncommitted: boolean;
  /** At a source-transaction boundary with enough gathered (size or age) that `commit()` is due. */
  readonly due: boolean;
  /**
   * Takes one decoded change, in stream order. May write it out early, but never durably visible before
   * its commit. Returns undefined when the change was taken synchronously: the loop then goes on without
   * an await (a microtask per change is measurable at a million changes).
   */
  apply(change: Change): Promise<void> | undefined;
  /**
   * Makes everything applied so far durable, with the end LSN of the last source commit seen, in one
   * atomic step. Returns that LSN (the one to acknowledge), or undefined when nothing was pending.
   * Only between source transactions.
   */
  commit(): Promise<Lsn | undefined>;
  /** Forgets everything not committed (a half-received source transaction at shutdown). */
  rollback(): Promise<void>;
  /**
   * Nothing pending and the server has decoded WAL up to `lsn` with nothing for us (a keepalive):
   * record it durably so an idle source does not pin WAL. True when `lsn` is now durable.
   */
  advanceIdle(lsn: Lsn): Promise<boolean>;
  /**
   * Optional: the stream is quiet (a timer tick between messages), outside a source transaction:
   * work no change brings (DuckDbSink: a table skipped in this run that can join now). True when it
   * left something to commit.
   */
  quiet?(): Promise<boolean>;
  /** Optional: the server reports its WAL decoded up to `lsn` (a keepalive), pending work or not. */
  streamPassed?(lsn: Lsn): void;
  /**
   * Optional: row changes (insert, update, delete) this sink took for its target so far, committed or
   * not, never reset; the loop counts what it gained up to each commit. A sink that drops the changes
   * of tables it does not follow says so here; without it the loop counts every decoded row change.
   */
  readonly rowChanges?: number;
}
