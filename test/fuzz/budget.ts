// How much fuzzing a run does. CI: a fixed seed and a few hundred cases per property, so a red run
// can be replayed. Opt-in long runs:
//   WALDUCK_FUZZ_RUNS=10000000            cases per property (default: each file's small number)
//   WALDUCK_FUZZ_SECONDS=120              and/or a time budget per property (stops early, not a failure)
//   WALDUCK_FUZZ_SEED=123                 a seed (default fixed; random when a long run asks for
//                                         WALDUCK_FUZZ_SEED=random)
//   WALDUCK_FUZZ_REPORT=fuzz.jsonl        one JSON line per property: cases run, seed, outcome
// A failure prints fast-check's shrunk counterexample, seed and path; add the input to the corpus.
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

const FIXED_SEED = 0x17_5eed;

function seed(): number {
  const s = process.env.WALDUCK_FUZZ_SEED;
  if (s === 'random') return Math.floor(Math.random() * 0x7fff_ffff);
  return s ? Number(s) : FIXED_SEED;
}

/** The per-property case count: WALDUCK_FUZZ_RUNS if set, else the caller's default (scaled). */
export function fuzzRuns(defaultRuns: number): number {
  const env = process.env.WALDUCK_FUZZ_RUNS;
  return env ? Number(env) : defaultRuns;
}

/** The test timeout to give a fuzz test: generous for CI, unbounded-enough for a time-boxed run. */
export function fuzzTimeoutMs(): number {
  const seconds = Number(process.env.WALDUCK_FUZZ_SECONDS ?? 0);
  return seconds > 0 ? (seconds + 120) * 1000 : process.env.WALDUCK_FUZZ_RUNS ? 24 * 3600_000 : 120_000;
}

/** Runs one property with the budget above; reports the number of cases; throws on a failure. */
export function fuzz<T>(name: string, property: fc.IProperty<T>, runs: number): number {
  const seconds = Number(process.env.WALDUCK_FUZZ_SECONDS ?? 0);
  const s = seed();
  const details = fc.check(property, {
    numRuns: runs,
    seed: s,
    ...(seconds > 0 ? { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : {}),
  });
  const report = process.env.WALDUCK_FUZZ_REPORT;
  if (report) {
    appendFileSync(
      report,
      `${JSON.stringify({ name, cases: details.numRuns, seed: s, failed: details.failed, interrupted: details.interrupted })}\n`,
    );
  }
  if (details.failed) throw new Error(`${name}: ${fc.defaultReportMessage(details) ?? 'failed'}`);
  return details.numRuns;
}
