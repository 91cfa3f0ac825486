// How long walduck takes to notice a silent server at the server's default wal_sender_timeout (60 s),
// for a link that stops carrying bytes (half-open: nothing dropped is answered, nothing is closed)
// towards walduck (down), towards the server (up), or both ways. Minutes per sample: opt-in with
// WALDUCK_MEASURE_SILENCE=N (samples per direction; at least 3 for a median and a range).
//
// What to expect: down and both are walduck's own receive timeout (wal_sender_timeout, counted in
// ticks of a second, a keepalive asked for half way): 60-61 s after the last byte received. Up is the
// server's: it hears no status update for wal_sender_timeout, ends the walsender, and its close
// reaches walduck.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { type Direction, throughProxy } from '../../helpers/faults.js';
import { useWorkdir } from '../../helpers/workdir.js';

const SAMPLES = Number(process.env.WALDUCK_MEASURE_SILENCE ?? 0);
/** Which ways to stall (comma-separated; default all three). */
const DIRECTIONS = (process.env.WALDUCK_MEASURE_SILENCE_WAYS ?? 'down,up,both')
  .split(',')
  .filter((d): d is Direction => d === 'down' || d === 'up' || d === 'both');
// No cluster at all unless asked for: in CI the test is skipped.
const c = SAMPLES > 0 ? useCluster() : { info: undefined as never };
const dir = useWorkdir('walduck-silence-');

it('notices a silent server within about wal_sender_timeout (default 60 s), whichever way the link stalls', {
  skip: SAMPLES > 0 ? false : 'opt-in: WALDUCK_MEASURE_SILENCE=3',
  timeout: 60 * 60_000,
}, async () => {
  assert.equal(psql(c.info, 'SHOW wal_sender_timeout'), '1min', 'the server default');
  psql(c.info, 'CREATE TABLE beat (id int PRIMARY KEY, n int)');
  psql(c.info, 'INSERT INTO beat VALUES (1, 0)');
  const run = await throughProxy(c.info, (source) => [
    'replicate',
    '--source',
    source,
    '--duckdb',
    join(dir, 'silence.duckdb'),
    '--tables',
    'beat',
    '--slot',
    'silence',
    '--progress-interval',
    '1',
  ]);
  const { proxy, lines } = run;
  const next = (re: RegExp, from: number) => lines.next(re, from);
  const results: { direction: Direction; seconds: number; code: string; resumeSeconds: number }[] = [];
  try {
    let from = await next(/streaming from slot silence/, 0);
    let n = 0;
    for (const direction of DIRECTIONS) {
      for (let s = 0; s < SAMPLES; s++) {
        // A change just arrived (the link was alive a moment ago), then the link goes silent.
        psql(c.info, `UPDATE beat SET n = ${++n}`);
        from = await next(new RegExp(`^walduck replicate: ${n} changes`), from);
        proxy.stallOpen(direction);
        const t0 = performance.now();
        const noticed = await next(/reconnecting, attempt/, from);
        const line = { at: lines.at[noticed] ?? 0, text: lines.all[noticed] ?? '' };
        // The stale half of the link goes (the server's walsender may still hold the slot).
        proxy.heal();
        from = await next(/streaming from slot silence/, noticed);
        results.push({
          direction,
          seconds: (line.at - t0) / 1000,
          code: /\[([A-Z0-9_]+)\]/.exec(line.text)?.[1] ?? '?',
          resumeSeconds: ((lines.at[from] ?? 0) - line.at) / 1000,
        });
      }
    }
  } finally {
    run.child.kill('SIGTERM');
    await run.done;
    await proxy.close();
  }
  const report = DIRECTIONS.map((d) => {
    const xs = results.filter((r) => r.direction === d);
    const sec = xs.map((r) => r.seconds).sort((a, b) => a - b);
    const median =
      sec.length % 2
        ? sec[(sec.length - 1) / 2]
        : ((sec[sec.length / 2 - 1] ?? 0) + (sec[sec.length / 2] ?? 0)) / 2;
    return `${d}: noticed after median ${median?.toFixed(1)} s (${sec[0]?.toFixed(1)}–${sec.at(-1)?.toFixed(1)}; ${sec.map((x) => x.toFixed(1)).join(', ')}) by ${[...new Set(xs.map((r) => r.code))].join(', ')}; streaming again ${xs.map((r) => r.resumeSeconds.toFixed(1)).join(', ')} s later`;
  });
  process.stderr.write(
    `silence (wal_sender_timeout 60 s, ${SAMPLES} sample(s) each):\n${report.join('\n')}\n`,
  );
  // About wal_sender_timeout: never before it (nothing was wrong until then), within a tick past it.
  for (const r of results) assert.ok(r.seconds > 30 && r.seconds < 90, JSON.stringify(r));
});
