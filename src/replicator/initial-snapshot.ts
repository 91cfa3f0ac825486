// The initial snapshot, around the slot's creation:
//
//   1. refuse target tables that already hold rows (a copy on top would duplicate them);
//   2. commit a walduck.snapshot_pending row for the slot: from here until step 5 commits, a crash
//      leaves this mark, which tells the next run the slot is this file's to drop and recreate;
//   3. CREATE_REPLICATION_SLOT … LOGICAL wal2json EXPORT_SNAPSHOT on the replication connection, which
//      then stays idle (its next command would end the exported snapshot);
//   4. copy every table under that snapshot (src/snapshot) into one open DuckDB transaction;
//   5. in the same transaction: the state row at the slot's consistent point, the mark deleted; commit.
//
// Streaming then starts at the consistent point: the snapshot holds exactly the transactions that
// committed before it, the slot decodes exactly those after it. On failure nothing of the copy is
// committed, and the slot walduck just created is dropped.

import {
  type Connection,
  type ConnectionSettings,
  connect,
  formatLsn,
  type LogFn,
  type Lsn,
} from '../protocol/index.js';
import type { DuckDbSink } from '../sink/duckdb-sink.js';
import { copySnapshot, SnapshotError } from '../snapshot/copy.js';
import type { SnapshotDisplay } from '../snapshot/progress.js';
import type { CsvSpool } from '../snapshot/spool.js';
import type { SourceTable } from '../source/catalog.js';
import { ReplicateError } from './errors.js';

export interface InitialSnapshotOptions {
  readonly settings: ConnectionSettings;
  readonly slot: string;
  readonly tables: readonly SourceTable[];
  readonly jobs: number;
  readonly log: LogFn;
  readonly warn: (msg: string) => void;
  readonly progress?: SnapshotDisplay;
  readonly signal?: AbortSignal;
  /** Spool for CSV segments (snapshot/spool.ts); without it every row is parsed in JS. */
  readonly spool?: CsvSpool;
  /** No --tables: a table created while the slot was made fails the snapshot (copy.ts). */
  readonly allTables?: boolean;
  /** Tables the start skipped that can be replicated (Prepared.refused): not created meanwhile. */
  readonly refused?: ReadonlySet<string>;
}

export async function initialSnapshot(
  src: Connection,
  sink: DuckDbSink,
  o: InitialSnapshotOptions,
): Promise<Lsn> {
  const full = await sink.nonEmptyTargets();
  if (full.length > 0) {
    throw new ReplicateError(
      'snapshot',
      'WALDUCK_SNAPSHOT_TARGET_NOT_EMPTY',
      `DuckDB table ${full.join(', ')} already holds rows but the file records no replication state: an initial snapshot would duplicate them; empty ${full.length > 1 ? 'them' : 'it'}, use a new DuckDB file, or pass --no-snapshot`,
    );
  }
  await sink.markSnapshotPending();
  // Creating the slot waits for every transaction running on the server to end, however long that
  // is: a stop asked for meanwhile closes the connection instead of waiting with it. The slot, if the
  // server still makes it, is dropped at the next start (the snapshot is marked pending).
  const onStop = () => void src.close().catch(() => {});
  o.signal?.addEventListener('abort', onStop, { once: true });
  let created: Awaited<ReturnType<Connection['createReplicationSlot']>>;
  try {
    if (o.signal?.aborted) throw new Error('stopped before the slot was created');
    created = await src.createReplicationSlot(o.slot, { plugin: 'wal2json', snapshot: 'export' });
  } catch (err) {
    if (o.signal?.aborted)
      throw new SnapshotError('WALDUCK_SNAPSHOT_INTERRUPTED', 'interrupted while creating the slot', {
        cause: err,
      });
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onStop);
  }
  const at = created.consistentPoint;
  sink.copyingAt(at);
  o.log(`created slot ${o.slot} at ${formatLsn(at)} with snapshot ${created.snapshotName ?? '?'}`);
  try {
    if (!created.snapshotName)
      throw new ReplicateError('snapshot', 'WALDUCK_SNAPSHOT_FAILED', 'the server exported no snapshot');
    const t0 = performance.now();
    const stats = await copySnapshot({
      settings: o.settings,
      snapshotName: created.snapshotName,
      tables: o.tables,
      target: sink,
      jobs: o.jobs,
      log: o.log,
      ...(o.progress ? { progress: o.progress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.spool ? { spool: o.spool } : {}),
      ...(o.allTables ? { allTables: true } : {}),
      ...(o.refused ? { refused: o.refused } : {}),
    });
    await sink.commitSnapshot(at);
    const s = (performance.now() - t0) / 1000;
    o.log(
      `snapshot committed: ${stats.rows} rows, ${(stats.bytes / 1048576).toFixed(1)} MB in ${s.toFixed(3)} s (copy ${(stats.ms / 1000).toFixed(3)} s, ${Math.round(stats.rows / s)} rows/s); streaming from ${formatLsn(at)}`,
    );
    return at;
  } catch (err) {
    await sink.rollback().catch(() => {});
    await dropCreatedSlot(src, o).then(
      () => sink.clearSnapshotPending(),
      (dropErr: unknown) =>
        o.warn(
          `could not drop replication slot ${o.slot} after the failed snapshot (${dropErr instanceof Error ? dropErr.message : String(dropErr)}): the next run drops and recreates it, or drop it yourself (SELECT pg_drop_replication_slot('${o.slot}'))`,
        ),
    );
    throw err;
  }
}

/** On the replication connection when it is still usable, else on a fresh one. */
async function dropCreatedSlot(src: Connection, o: InitialSnapshotOptions): Promise<void> {
  try {
    await src.dropReplicationSlot(o.slot);
    o.log(`dropped slot ${o.slot} after the failed snapshot`);
    return;
  } catch {
    // The connection may be what failed: try once more on a new one.
  }
  const c = await connect(o.settings, { replication: 'database', log: o.log, connectTimeoutMs: 10_000 });
  try {
    await c.dropReplicationSlot(o.slot);
    o.log(`dropped slot ${o.slot} after the failed snapshot`);
  } finally {
    await c.close().catch(() => {});
  }
}
