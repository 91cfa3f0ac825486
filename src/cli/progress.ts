// Progress for long-running commands (replicate, stream): one line on stderr that rewrites itself when
// stderr is a terminal, plain periodic log lines when it is not (a file or a journal wants lines, not
// carriage returns), and the final figures as JSON for --stats-json.
import { writeFileSync } from 'node:fs';
import { formatLsn, type Lsn, maxLsn } from '../protocol/lsn.js';
import { formatBytes } from './format.js';

export interface Figures {
  /** Row changes (insert, update, delete, truncate, message). */
  readonly changes: number;
  readonly transactions: number;
  /** Plugin payload bytes received. */
  readonly bytes: number;
  /** Where the consumer is: the last LSN written (stream) or applied (replicate). */
  readonly lsn: Lsn;
  /** The server's WAL end as last reported to us. */
  readonly serverEnd: Lsn;
}

export interface FinalStats {
  readonly command: string;
  readonly slot: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly seconds: number;
  readonly changes: number;
  readonly transactions: number;
  readonly bytes: number;
  readonly changes_per_second: number;
  readonly mb_per_second: number;
  readonly start_lsn: string;
  readonly lsn: string;
  readonly server_wal_end: string;
  readonly lag_bytes: number;
  readonly stopped_by: string;
}

export interface ProgressOptions {
  readonly command: string;
  readonly out?: { write(s: string): unknown; readonly isTTY?: boolean };
  /** Seconds between plain lines when not a terminal; 0 turns them off. */
  readonly intervalSeconds?: number;
  readonly now?: () => number;
}

const TTY_MS = 250;
const MB = 1024 * 1024;

/** Lag to the server's WAL end; never negative (a consumer may be ahead of a keepalive's walEnd). */
export function lagBytes(f: Figures): bigint {
  return f.serverEnd > f.lsn ? f.serverEnd - f.lsn : 0n;
}

export class ProgressDisplay {
  private latest: Figures | undefined;
  private last: { at: number; changes: number; bytes: number };
  private readonly startedAt: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly out: { write(s: string): unknown; readonly isTTY?: boolean };
  private readonly tty: boolean;
  private readonly now: () => number;
  private drawn = false;
  private note: string | undefined;

  constructor(private readonly o: ProgressOptions) {
    this.out = o.out ?? process.stderr;
    this.tty = this.out.isTTY === true;
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
    this.last = { at: this.startedAt, changes: 0, bytes: 0 };
    const ms = this.tty ? TTY_MS : (o.intervalSeconds ?? 10) * 1000;
    if (ms > 0) {
      this.timer = setInterval(() => this.render(), ms);
      this.timer.unref();
    }
  }

  /** Cheap: keeps the figures; the timer draws them. */
  update(f: Figures): void {
    this.latest = f;
  }

  /**
   * A condition shown at the end of every line while it lasts (undefined: over), e.g. a replication
   * slot in danger. The log says it once when it starts; the line keeps it in view until it is over.
   */
  setNote(note: string | undefined): void {
    this.note = note;
  }

  private render(): void {
    const f = this.latest;
    if (!f) return;
    const t = this.now();
    const dt = Math.max(t - this.last.at, 1) / 1000;
    const text =
      describe(this.o.command, f, (f.changes - this.last.changes) / dt, (f.bytes - this.last.bytes) / dt) +
      (this.note === undefined ? '' : `; WARNING: ${this.note}`);
    this.last = { at: t, changes: f.changes, bytes: f.bytes };
    if (this.tty) {
      this.out.write(`\r\x1b[K${text}`);
      this.drawn = true;
    } else this.out.write(`${text}\n`);
  }

  /** Stops the line (a terminal gets its line cleared) and returns the final figures. */
  finish(f: Figures, extra: { slot: string; startLsn: Lsn; stoppedBy: string }): FinalStats {
    if (this.timer) clearInterval(this.timer);
    if (this.drawn) this.out.write('\r\x1b[K');
    const end = this.now();
    const seconds = Math.max(end - this.startedAt, 1) / 1000;
    return {
      command: this.o.command,
      slot: extra.slot,
      started_at: new Date(this.startedAt).toISOString(),
      finished_at: new Date(end).toISOString(),
      seconds,
      changes: f.changes,
      transactions: f.transactions,
      bytes: f.bytes,
      changes_per_second: Math.round(f.changes / seconds),
      mb_per_second: Math.round((f.bytes / MB / seconds) * 1000) / 1000,
      start_lsn: formatLsn(extra.startLsn),
      lsn: formatLsn(f.lsn),
      server_wal_end: formatLsn(maxLsn(f.serverEnd, f.lsn)),
      lag_bytes: Number(lagBytes(f)),
      stopped_by: extra.stoppedBy,
    };
  }
}

function describe(command: string, f: Figures, changesPerSecond: number, bytesPerSecond: number): string {
  const lag = lagBytes(f);
  return (
    `walduck ${command}: ${f.changes} changes (${Math.round(changesPerSecond)}/s, ${(bytesPerSecond / MB).toFixed(2)} MB/s), ` +
    `${f.transactions} transactions, at ${formatLsn(f.lsn)}, lag ${lag} bytes (${formatBytes(lag)})`
  );
}

export function writeStatsJson(file: string | undefined, stats: FinalStats): void {
  if (file !== undefined) writeFileSync(file, `${JSON.stringify(stats, null, 2)}\n`);
}

export function summaryLine(s: FinalStats): string {
  return `walduck ${s.command}: ${s.changes} changes in ${s.transactions} transactions, ${formatBytes(s.bytes)} in ${s.seconds.toFixed(1)} s (${s.changes_per_second} changes/s, ${s.mb_per_second} MB/s), up to ${s.lsn} (${s.stopped_by})`;
}
