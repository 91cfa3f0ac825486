// Snapshot progress: rows, MB and rate per table. On a terminal, one line rewritten in place (at most
// a few times a second) and a final line per table; otherwise a log line per finished table.

export interface TableProgress {
  readonly name: string;
  rows: number;
  bytes: number;
  startedAt: number;
  done: boolean;
}

export interface ProgressSink {
  update(t: TableProgress): void;
  finish(t: TableProgress): void;
}

const MB = 1024 * 1024;
const REDRAW_MS = 250;

export function describeProgress(t: TableProgress, now: number): string {
  const s = Math.max((now - t.startedAt) / 1000, 0.001);
  const mb = t.bytes / MB;
  return `${t.name}: ${t.rows.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB in ${s.toFixed(1)} s (${Math.round(t.rows / s).toLocaleString('en-US')} rows/s, ${(mb / s).toFixed(1)} MB/s)`;
}

export class TerminalProgress implements ProgressSink {
  private lastDraw = 0;
  constructor(private readonly out: { write(s: string): unknown }) {}

  update(t: TableProgress): void {
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.out.write(`\r\x1b[Ksnapshot ${describeProgress(t, now)}`);
  }

  finish(t: TableProgress): void {
    this.out.write(`\r\x1b[Ksnapshot ${describeProgress(t, performance.now())}\n`);
  }
}

export class LogProgress implements ProgressSink {
  constructor(private readonly log: (msg: string) => void) {}
  update(): void {}
  finish(t: TableProgress): void {
    this.log(`snapshot ${describeProgress(t, performance.now())}`);
  }
}
