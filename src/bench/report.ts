// The bench's report: a Markdown table for people, JSON for machines. Every walduck figure is also
// given as a ratio to pg_recvlogical on the same range (time of pg_recvlogical / time of contender),
// and, where the Node peer ran (format v2, package installed), as a ratio to it the same way.
import { cpus, totalmem } from 'node:os';
import type { Measured } from './measure.js';
import { type Cell, type Contender, PEER } from './run.js';

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const span = (xs: readonly number[]) =>
  xs.length === 0
    ? '–'
    : `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

export function markdown(cells: readonly Cell[], repeat: number): string {
  const lines = [
    `${machine()}. Median of ${repeat} (min–max). ratio = pg_recvlogical seconds / contender seconds on the same WAL range; × peer = ${PEER} seconds / contender seconds (v2 only).`,
    '',
    '| workload | format | contender | seconds | rows/s | decoded MB/s | ratio | × peer | walsender CPU s | contender CPU s | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cells) {
    const ref = median(c.runs.pg_recvlogical.map((m) => m.seconds));
    const peer = median((c.runs[PEER] ?? []).map((m) => m.seconds));
    for (const name of Object.keys(c.runs) as Contender[]) {
      const runs: readonly Measured[] = c.runs[name];
      if (runs.length === 0) continue;
      const secs = runs.map((m) => m.seconds);
      const t = median(secs);
      lines.push(
        `| ${c.workload} | ${c.format} | ${name} | ${span(secs)} | ${Math.round(c.changes / t)} | ${c.payloadBytes > 0 ? (c.payloadBytes / 1e6 / t).toFixed(1) : '–'} | ${(ref / t).toFixed(2)} | ${Number.isNaN(peer) ? '–' : (peer / t).toFixed(2)} | ${median(runs.map((m) => m.walsenderCpuSeconds)).toFixed(2)} | ${median(runs.map((m) => m.cpuSeconds)).toFixed(2)} | ${Math.round(Math.max(...runs.map((m) => m.peakRssMb)))} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function json(cells: readonly Cell[], repeat: number): string {
  return `${JSON.stringify({ machine: machine(), repeat, date: new Date().toISOString(), cells }, (k, v) => (k === 'stdout' ? undefined : v), 2)}\n`;
}
