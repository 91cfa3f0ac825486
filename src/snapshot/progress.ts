// Snapshot progress: rows, MB and rate per table. On a terminal, one line rewritten in place (at most
// a few times a second) and a final line per table; otherwise a log line per finished table.

export interface TableCopy {
  readonly name: string;
  rows: number;
  bytes: number;
  startedAt: number;
  done: boolean;
}

export interface SnapshotDisplay {
  update(t: TableCopy): void;
  finish(t: TableCopy): void;
}

const MB = 1024 * 1024;
const REDRAW_MS = 250;

export function describeTableCopy(t: TableCopy, now: number): string {
  const s = Math.max((now - t.startedAt) / 1000, 0.001);
  const mb = t.bytes / MB;
  return `${t.name}: ${t.rows.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB in ${s.toFixed(1)} s (${Math.round(t.rows / s).toLocaleString('en-US')} rows/s, ${(mb / s).toFixed(1)} MB/s)`;
}

export class TerminalSnapshotDisplay implements SnapshotDisplay {
  private lastDraw = 0;
  constructor(private readonly out: { write(s: string): unknown }) {}

  update(t: TableCopy): void {
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.out.write(`\r\x1b[Ksnapshot ${describeTableCopy(t, now)}`);
  }

  finish(t: TableCopy): void {
    this.out.write(`\r\x1b[Ksnapshot ${describeTableCopy(t, performance.now())}\n`);
  }
}

export class LogSnapshotDisplay implements SnapshotDisplay {
  constructor(private readonly log: (msg: string) => void) {}
  update(): void {}
  finish(t: TableCopy): void {
    this.log(`snapshot ${describeTableCopy(t, performance.now())}`);
  }
}
