// Opening a DuckDB file, in one place: replicate opens it read-write for as long as it runs; the
// hand-run commands (slot status, demo) open it read-only and close it again before they return, so a
// replicate started next can take it. Either way a file held by another process is said so, by PID
// when DuckDB names one.
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Lsn } from '../protocol/lsn.js';
import { attachedCatalog, readState, stateTableExists } from './checkpoint.js';
import { DuckFileError } from './errors.js';

export interface OpenOptions {
  readonly readOnly?: boolean;
  /** DuckDB's memory_limit: past it, DuckDB spills (staged rows of a huge transaction included). */
  readonly memoryLimit?: string | undefined;
  /** DuckDB's threads (default: DuckDB's own, one per core). */
  readonly threads?: number | undefined;
}

/**
 * replicate's default memory_limit (--duckdb-memory-limit): DuckDB's own is 80% of the machine's RAM.
 * 64MB rather than 128MB (issue 19's 200 MB target): only a transaction holding large values fills
 * the pool (10k rows of 20 kB: peak RSS 263 -> 207 MB), and the other workloads measured the same
 * CPU and RSS at either (300k inserts in 100-row transactions, 200k updates + 200k deletes, 100k
 * rows of 50 columns, 1M inserts in one transaction, the 1M-row snapshot). A vector of rows that
 * needs more raises it for its transaction (commit-room.ts).
 */
export const DEFAULT_MEMORY_LIMIT = '64MB';

/**
 * replicate's default DuckDB threads (--duckdb-threads). DuckDB's own default is one per core, but
 * replicate's statements are one batch each, run one after another: with worker threads the
 * connection's own thread polls DuckDB's task queue while the workers run the tasks (perf: mutex
 * lock/unlock and task-queue calls ~15% of the samples on 20 kB values), and that polling competes
 * with the walsender and Node for the same cores. Measured on 2 cores (issue 19, walduck bench
 * replicate-alt, same WAL range, median of 3): walduck's CPU 10.9 -> 7.0 s for 10k x 20 kB values,
 * 13.5 -> 11.8 s for 1M inserts in 100-row transactions, 6.2 -> 5.9 s for updates and deletes, peak
 * RSS unchanged. The snapshot's CSV loads already ran with one (csv-load.ts).
 */
export const DEFAULT_THREADS = 1;

/**
 * DuckDB's allocator keeps memory it freed, per thread, until 128 MiB (512 MiB after a bulk free)
 * before it gives it back: with a large transaction's strings going through, that alone is more than
 * the rest of walduck. Flushed from 16 MiB, by background threads, instead (issue 19: peak RSS of a
 * 200k-row transaction 580 -> 430-500 MB; no CPU change measured).
 */
const ALLOCATOR: Record<string, string> = {
  allocator_flush_threshold: '16MB',
  allocator_bulk_deallocation_flush_threshold: '16MB',
  allocator_background_threads: 'true',
};

/** DuckDB's own accounting, MB per duckdb_memory() tag (spilled bytes as "<tag>:spilled"). */
export type DuckMemoryProbe = () => Promise<Record<string, number>>;

let onOpen: ((probe: DuckMemoryProbe) => void) | undefined;

/** Diagnostics only (walduck:mem): `fn` gets a memory probe of every instance opened from now on. */
export function watchOpens(fn: (probe: DuckMemoryProbe) => void): void {
  onOpen = fn;
}

function memoryProbe(instance: DuckDBInstance): DuckMemoryProbe {
  const mb = (n: unknown) => Math.round((Number(n) / 1024 / 1024) * 10) / 10;
  return async () => {
    const conn = await instance.connect();
    try {
      const r = await conn.runAndReadAll(
        'SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0',
      );
      const out: Record<string, number> = {};
      for (const [tag, used, spilled] of r.getRows()) {
        out[String(tag)] = mb(used);
        if (Number(spilled) > 0) out[`${String(tag)}:spilled`] = mb(spilled);
      }
      return out;
    } finally {
      conn.closeSync();
    }
  };
}

export async function openDuckDb(path: string, o: OpenOptions = {}): Promise<DuckDBInstance> {
  const config: Record<string, string> = { ...ALLOCATOR };
  if (o.readOnly) config.access_mode = 'READ_ONLY';
  if (o.memoryLimit) config.memory_limit = o.memoryLimit;
  if (o.threads !== undefined) config.threads = String(o.threads);
  try {
    // Loaded when used: DuckDB's native module is most of the start-up of commands that never need it.
    const { DuckDBInstance } = await import('./duckdb-api.js');
    const instance = await DuckDBInstance.create(path, config);
    onOpen?.(memoryProbe(instance));
    return instance;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const lock = /Conflicting lock is held in (.*?)(?: \(PID (\d+)\))?[.\n]/.exec(text);
    if (lock || /lock/i.test(text)) {
      throw new DuckFileError(
        'WALDUCK_DUCKDB_LOCKED',
        `DuckDB file ${path} is in use by another process${lock?.[2] ? ` (PID ${lock[2]})` : ''}: stop it (a running replicate?), or use another file`,
        { cause: err },
      );
    }
    throw new DuckFileError(
      'WALDUCK_DUCKDB_OPEN',
      `cannot open DuckDB file ${path}: ${text.split('\n')[0]}`,
      {
        cause: err,
      },
    );
  }
}

export type DuckQuery = (sql: string) => Promise<{ columns: string[]; rows: unknown[][] }>;

/** Runs `use` with a query function on the file, then closes it (read-only: never takes the write lock). */
export async function withDuckDb<T>(
  file: string,
  readOnly: boolean,
  use: (query: DuckQuery, conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await openDuckDb(file, { readOnly });
  const conn = await instance.connect();
  try {
    return await use(async (sql) => {
      const r = await conn.runAndReadAll(sql);
      return { columns: r.columnNames(), rows: r.getRows() as unknown[][] };
    }, conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** The LSN walduck.state records for `slot` (what the replica holds up to), or undefined when none. */
export async function storedLsn(file: string, slot: string): Promise<Lsn | undefined> {
  return withDuckDb(file, true, async (_query, conn) => {
    if (!(await stateTableExists(conn))) {
      throw new DuckFileError(
        'WALDUCK_DUCKDB_NOT_REPLICA',
        `${file} has no walduck.state table: it is not a walduck replica`,
      );
    }
    // Qualified: in a file named walduck.duckdb a bare walduck.state is ambiguous.
    return (await readState(conn, await attachedCatalog(conn), slot))?.lsn;
  });
}
