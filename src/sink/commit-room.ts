// Gives DuckDB the room one vector of the open transaction's appended rows needs (commit-window.ts):
// memory_limit is raised before such rows go to DuckDB, stays raised through the COMMIT, and is set
// back once the transaction has ended, after a CHECKPOINT that writes those rows while the room is
// still there.
//
// It also spares a large transaction DuckDB's WAL. A COMMIT writes the transaction to the WAL, and
// the next COMMIT after the WAL passed checkpoint_threshold (16 MiB) writes it again, into the file.
// DuckDB can skip the WAL and checkpoint inside the COMMIT instead (auto_checkpoint_skip_wal_threshold),
// but it decides by its own estimate of the WAL bytes, which counts a string as its 16-byte header:
// 10k rows of 20 kB (200 MB) were estimated below the threshold, written to the WAL (1.0-1.4 s) and
// checkpointed later (0.9-1.5 s). A transaction that appended more than the threshold commits with
// the threshold at 0 bytes, so DuckDB checkpoints in the COMMIT and writes no WAL (1.1 s in all, in
// DuckDB alone). It is as durable: the COMMIT returns once the checkpoint has written the file, and
// a checkpoint that fails fails the COMMIT (nothing stored, nothing acknowledged). When DuckDB
// cannot checkpoint then (another connection's transaction is open), it writes the WAL as before.

import type { DuckDBConnection } from '@duckdb/node-api';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { shownName } from '../wal2json/shown-name.js';
import { COMMIT_SLACK, CommitWindow, settingBytes, VECTOR_ROWS } from './commit-window.js';
import { quoteLiteral } from './sql.js';

export class CommitRoom {
  /** The appended rows' largest vector per table. */
  readonly window = new CommitWindow();
  /** DuckDB's memory_limit as given (or as current_setting printed it), and in bytes; read once. */
  private limit: { text: string; bytes: number } | undefined;
  /** The memory_limit set for the open transaction, in bytes (0: not raised). */
  private raisedTo = 0;
  private said = false;
  /** DuckDB's checkpoint_threshold as current_setting printed it, and in bytes; read once. */
  private threshold: { text: string; bytes: number } | undefined;
  /** checkpoint_threshold was set to 0 for the COMMIT under way. */
  private checkpointing = false;

  constructor(
    private readonly conn: DuckDBConnection,
    /** --duckdb-memory-limit as the file was opened with it: set again exactly, not as printed. */
    private readonly memoryLimit: string | undefined,
    private readonly log: (msg: string) => void,
    private readonly warn: (msg: string) => void,
  ) {}

  /**
   * Raises memory_limit when one vector of the rows noted so far may not fit: called before rows go
   * to DuckDB, and so before the COMMIT too. Up by half again at least, since the need grows a flush
   * at a time.
   */
  async before(): Promise<void> {
    const widest = this.window.largest();
    if (widest === undefined) return;
    // Read once: only this class changes it, and sets it back.
    this.limit ??= await this.setting('memory_limit', this.memoryLimit);
    const need = widest.bytes + COMMIT_SLACK;
    if (need <= Math.max(this.limit.bytes, this.raisedTo)) return;
    const mib = Math.ceil(Math.max(need, 1.5 * this.raisedTo) / 2 ** 20);
    this.log(
      `memory_limit ${mib} MiB: ${VECTOR_ROWS} rows of ${shown(widest.table)} may hold ${widest.bytes} bytes`,
    );
    await this.conn.run(`SET memory_limit = '${mib}MiB'`);
    this.raisedTo = mib * 2 ** 20;
  }

  /** Just before the COMMIT: a transaction larger than checkpoint_threshold skips the WAL. */
  async beforeCommit(): Promise<void> {
    if (this.window.total === 0) return;
    this.threshold ??= await this.setting('checkpoint_threshold');
    if (this.window.total < this.threshold.bytes) return;
    this.log(`COMMIT checkpoints: the transaction appended about ${this.window.total} bytes`);
    this.checkpointing = true;
    await this.conn.run("SET checkpoint_threshold = '0B'");
  }

  /**
   * A DuckDB size setting as current_setting prints it ("122.0 MiB"), and in bytes. `given`: the text
   * to set it back to, when walduck set it from an option (set again exactly, not as printed).
   */
  private async setting(name: string, given?: string): Promise<{ text: string; bytes: number }> {
    const r = await this.conn.runAndReadAll(`SELECT current_setting(${quoteLiteral(name)})`);
    const text = String(r.getRows()[0]?.[0]);
    return { text: given ?? text, bytes: settingBytes(text) ?? Number.POSITIVE_INFINITY };
  }

  /**
   * The transaction has ended (`committed`: at that LSN; else rolled back or failed). The first
   * committed raise of a run is said in one line: a stream of such transactions raises it each time.
   */
  async after(committed?: Lsn): Promise<void> {
    const at = this.window.largest();
    this.window.clear();
    if (this.checkpointing && this.threshold !== undefined) {
      this.checkpointing = false;
      // Best effort, as below.
      await this.conn
        .run(`SET checkpoint_threshold = ${quoteLiteral(this.threshold.text)}`)
        .catch(() => undefined);
    }
    if (this.raisedTo === 0 || this.limit === undefined) return;
    if (committed !== undefined && at !== undefined && !this.said) {
      this.said = true;
      this.warn(
        `DuckDB's memory_limit was raised from ${this.limit.text} to ${Math.ceil(this.raisedTo / 2 ** 20)} MiB for the transaction committed up to ${formatLsn(committed)}: DuckDB appends and commits ${VECTOR_ROWS} rows at a time, and ${VECTOR_ROWS} rows of ${shown(at.table)} in it held up to ${Math.ceil(at.bytes / 2 ** 20)} MiB (a higher --duckdb-memory-limit avoids the raise)`,
      );
    }
    this.raisedTo = 0;
    // Written into the file while the room is there: a checkpoint writes the rows committed since
    // the last one a vector at a time too, and a later one (a COMMIT once the WAL is large, the close,
    // or the next run's first COMMIT after replaying the WAL) under the usual limit failed, after its
    // commit was durable, with DuckDB refusing every statement from then on. (A COMMIT that
    // checkpointed instead of writing the WAL, as a transaction this large does, leaves it nothing to
    // do: about 1 ms. It stays for the COMMIT DuckDB could not checkpoint.)
    if (committed !== undefined) {
      const t0 = performance.now();
      await this.conn
        .run('CHECKPOINT')
        .then(() => this.log(`CHECKPOINT after the raised commit: ${(performance.now() - t0).toFixed(1)} ms`))
        .catch((err: unknown) => this.log(`CHECKPOINT after the raised commit failed: ${String(err)}`));
    }
    // Best effort: after a failed COMMIT the instance may refuse every statement, and that failure
    // is the one to report.
    await this.conn.run(`SET memory_limit = ${quoteLiteral(this.limit.text)}`).catch(() => undefined);
  }
}

/** A table's key in the sink's map (schema NUL table, sink-table.ts) as every line shows a name. */
function shown(key: string): string {
  const at = key.indexOf('\u0000');
  return shownName({ schema: key.slice(0, at), table: key.slice(at + 1) });
}
