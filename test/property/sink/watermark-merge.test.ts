// The watermark merge of an online copy, against a model: a source table takes random transactions
// (inserts, updates that may change the key or leave an unchanged "TOASTed" column out of the row,
// deletes, TRUNCATE) while a copier reads it in key chunks of a random size between low and high
// watermarks, at random points of the stream, and the consumer is killed (-9: back to its last commit,
// a new copier run) or reconnects (rollback, same run) at random points. Every change the merge lets
// through is applied strictly (an insert of a present key, an update or delete of a missing one fails
// the case). When the copy is done and the stream drained, DuckDB's model equals the source.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import {
  CopyMergeError,
  type CopyProgress,
  type KeyValues,
  type Row,
  WatermarkMerge,
} from '../../../src/sink/watermark-merge.js';
import type { Change, RowImage } from '../../../src/wal2json/change.js';
import { fuzzRuns } from '../../fuzz/budget.js';

const COLUMNS = ['k', 'v', 't'];
const TYPES = ['integer', 'text', 'text'];
const compare = (a: KeyValues, b: KeyValues) => Number(a[0]) - Number(b[0]);
type SrcRow = { k: number; v: string; t: string };

type Op =
  | { op: 'I'; k: number; v: string; t: string }
  | { op: 'U'; k: number; to: number; v: string; t: string | undefined }
  | { op: 'D'; k: number }
  | { op: 'T' };
type Step =
  | { s: 'tx'; ops: Op[] }
  | { s: 'copy' }
  | { s: 'consume'; n: number }
  | { s: 'commit' }
  | { s: 'kill' }
  | { s: 'reconnect' };

const K = 14;
const key = fc.integer({ min: 0, max: K });
const text = fc.constantFrom('a', 'b', 'c', 'd');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('I' as const), k: key, v: text, t: text }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('U' as const),
      k: key,
      // Mostly the same key; sometimes a key change.
      to: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: key }),
      v: text,
      // undefined: the "TOASTed" column is unchanged and left out of the row image.
      t: fc.option(text, { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('D' as const), k: key }) },
  { weight: 1, arbitrary: fc.constant({ op: 'T' as const }) },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      s: fc.constant('tx' as const),
      ops: fc.array(opArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 6, arbitrary: fc.constant({ s: 'copy' as const }) },
  {
    weight: 5,
    arbitrary: fc.record({ s: fc.constant('consume' as const), n: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 3, arbitrary: fc.constant({ s: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ s: 'kill' as const }) },
  { weight: 1, arbitrary: fc.constant({ s: 'reconnect' as const }) },
);

type Event = { e: 'tx'; changes: Change[] } | { e: 'low' | 'high'; id: string };

const img = (r: SrcRow, withT = true): RowImage => ({
  names: withT ? COLUMNS : ['k', 'v'],
  types: withT ? TYPES : TYPES.slice(0, 2),
  values: withT ? [String(r.k), r.v, r.t] : [String(r.k), r.v],
});
const keyImg = (k: number): RowImage => ({ names: ['k'], types: ['integer'], values: [String(k)] });
const ref = { schema: 'public', table: 'c' };

/** Applies one source transaction, returning its changes (invalid ops are left out, as PostgreSQL would refuse them). */
function commitTx(src: Map<number, SrcRow>, ops: Op[]): Change[] {
  const out: Change[] = [];
  for (const o of ops) {
    if (o.op === 'I') {
      if (src.has(o.k)) continue;
      const r = { k: o.k, v: o.v, t: o.t };
      src.set(o.k, r);
      out.push({ kind: 'insert', lsn: 0n, ...ref, new: img(r) });
    } else if (o.op === 'U') {
      const old = src.get(o.k);
      const to = o.to < 0 ? o.k : o.to;
      if (!old || (to !== o.k && src.has(to))) continue;
      const r = { k: to, v: o.v, t: o.t ?? old.t };
      src.delete(o.k);
      src.set(to, r);
      out.push({
        kind: 'update',
        lsn: 0n,
        ...ref,
        new: img(r, o.t !== undefined),
        ...(to !== o.k ? { old: keyImg(o.k) } : {}),
      });
    } else if (o.op === 'D') {
      if (!src.has(o.k)) continue;
      src.delete(o.k);
      out.push({ kind: 'delete', lsn: 0n, ...ref, old: keyImg(o.k) });
    } else {
      src.clear();
      out.push({ kind: 'truncate', lsn: 0n, tables: [ref] });
    }
  }
  return out;
}

const rowOf = (image: RowImage, base?: Row): Row => {
  const out: (string | null)[] = base ? [...base] : [null, null, null];
  image.names.forEach((n, i) => {
    out[COLUMNS.indexOf(n)] = image.values[i] ?? null;
  });
  return out;
};

/** The DuckDB side: strict, so a change the merge lets through wrongly fails the case. */
function applyStrict(duck: Map<string, Row>, c: Change): void {
  if (c.kind === 'insert') {
    const k = c.new.values[0] ?? '';
    assert.ok(!duck.has(k), `insert of present key ${k}`);
    assert.equal(c.new.names.length, 3, 'an insert carries the whole row');
    duck.set(k, rowOf(c.new));
  } else if (c.kind === 'update') {
    const a = (c.old ?? c.new).values[0] ?? '';
    const prior = duck.get(a);
    assert.ok(prior, `update of missing key ${a}`);
    duck.delete(a);
    const b = c.new.values[0] ?? '';
    assert.ok(!duck.has(b), `update onto present key ${b}`);
    duck.set(b, rowOf(c.new, prior));
  } else if (c.kind === 'delete') {
    const k = c.old.values[0] ?? '';
    assert.ok(duck.delete(k), `delete of missing key ${k}`);
  }
}

class Copier {
  phase: 'idle' | 'low' | 'selected' | 'waiting' | 'finished' = 'idle';
  chunkNo = 0;
  /** Every attempt gets its own id: a chunk re-read after a rollback must not match the lost one's watermarks. */
  attempt = 0;
  id = '';
  result: boolean | undefined;
  constructor(
    readonly run: number,
    readonly size: number,
  ) {}

  step(merge: WatermarkMerge, src: Map<number, SrcRow>, wal: Event[]): void {
    if (this.phase === 'idle') {
      // Finished only once the last chunk is committed: a rollback takes the copy back to copying.
      if (merge.committed.done) {
        this.phase = 'finished';
        return;
      }
      if (merge.progress.done) return;
      this.id = `${this.run}:${this.chunkNo}:${this.attempt++}`;
      this.result = undefined;
      void merge.expect(this.id).then((w) => {
        this.result = w;
      });
      wal.push({ e: 'low', id: this.id });
      this.phase = 'low';
    } else if (this.phase === 'low') {
      // READ COMMITTED SELECT: what the source holds now, keys above the copied part, in key order.
      const rows = [...src.values()]
        .filter((r) => !merge.atOrBelow([String(r.k)]))
        .sort((a, b) => a.k - b.k)
        .slice(0, this.size)
        .map((r): Row => [String(r.k), r.v, r.t]);
      merge.rows(this.id, rows, rows.length === this.size);
      this.phase = 'selected';
    } else if (this.phase === 'selected') {
      wal.push({ e: 'high', id: this.id });
      this.phase = 'waiting';
    } else if (this.phase === 'waiting' && this.result !== undefined) {
      if (this.result) this.chunkNo++;
      this.phase = 'idle';
    }
  }
}

interface Durable {
  pos: number;
  duck: Map<string, Row>;
}

it('the merged DuckDB side equals the source, whatever the interleaving, chunk size and kills', async () => {
  let stops = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ k: key, v: text, t: text }), { maxLength: 10 }),
      fc.array(fc.tuple(key, text), { maxLength: 5 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(stepArb, { minLength: 1, maxLength: 90 }),
      async (initial, stale, size, steps) => {
        const src = new Map<number, SrcRow>();
        for (const r of initial) src.set(r.k, r);
        const wal: Event[] = [];
        // A re-copied table: DuckDB holds stale rows until the first chunk empties it.
        const staleRows = new Map<string, Row>(stale.map(([k, v]) => [String(k), [String(k), v, 'old']]));
        let durable: Durable = { pos: 0, duck: new Map(staleRows) };
        let duck = new Map(durable.duck);
        let pos = 0;
        let run = 0;
        let merge = new WatermarkMerge(COLUMNS, [0], compare);
        let copier = new Copier(run, size);
        const consume = (n: number) => {
          for (let i = 0; i < n && pos < wal.length; i++) {
            const ev = wal[pos++] as Event;
            if (ev.e === 'low') merge.low(ev.id);
            else if (ev.e === 'high') {
              const w = merge.high(ev.id);
              if (!w) continue;
              if (w.emptyFirst) duck.clear();
              for (const r of w.rows) {
                const k = r[0] ?? '';
                assert.ok(!duck.has(k), `chunk row of present key ${k}`);
                duck.set(k, r);
              }
            } else if (ev.e === 'tx') {
              for (const c of ev.changes) {
                if (c.kind === 'truncate') {
                  merge.truncate();
                  duck.clear();
                } else if (c.kind === 'insert' || c.kind === 'update' || c.kind === 'delete')
                  for (const r of merge.route(c)) applyStrict(duck, r);
              }
            }
          }
        };
        const commit = () => {
          durable = { pos, duck: new Map(duck) };
          merge.commit();
        };
        const flush = () => new Promise<void>((r) => setImmediate(r));
        try {
          for (const st of steps) {
            if (st.s === 'tx') wal.push({ e: 'tx', changes: commitTx(src, st.ops) });
            else if (st.s === 'copy') copier.step(merge, src, wal);
            else if (st.s === 'consume') consume(st.n);
            else if (st.s === 'commit') commit();
            else if (st.s === 'kill') {
              const committed: CopyProgress = merge.committed;
              pos = durable.pos;
              duck = new Map(durable.duck);
              merge = new WatermarkMerge(COLUMNS, [0], compare, committed);
              copier = new Copier(++run, size);
            } else {
              pos = durable.pos;
              duck = new Map(durable.duck);
              merge.rollback();
            }
            await flush();
          }
          // The writer stops; the copy runs to its end and the stream drains.
          for (let i = 0; copier.phase !== 'finished'; i++) {
            assert.ok(i < 2000, 'the copy never finished');
            copier.step(merge, src, wal);
            consume(wal.length);
            await flush();
            commit();
          }
          consume(wal.length);
        } catch (err) {
          // The one documented stop: a partial row moving below the copied part. Never silent.
          if (err instanceof CopyMergeError) {
            stops++;
            return;
          }
          throw err;
        }
        const want = [...src.values()]
          .map((r) => [String(r.k), r.v, r.t])
          .sort((a, b) => Number(a[0]) - Number(b[0]));
        const got = [...duck.values()].map((r) => [...r]).sort((a, b) => Number(a[0]) - Number(b[0]));
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: fuzzRuns(400), seed: 0x15_c0de },
  );
  // The stop is rare; most cases must run to the comparison.
  assert.ok(stops < 40, `${stops} cases stopped on a partial row`);
});

it('a key-changing UPDATE without its TOASTed column never takes that column from the chunk row of the new key', () => {
  const merge = new WatermarkMerge(COLUMNS, [0], compare);
  void merge.expect('x');
  merge.low('x');
  // The SELECT ran first: key 2 still held another row, whose t is 'old'.
  merge.rows(
    'x',
    [
      ['1', 'a', 'one'],
      ['2', 'b', 'old'],
    ],
    false,
  );
  merge.route({ kind: 'delete', lsn: 0n, ...ref, old: keyImg(2) });
  merge.route({
    kind: 'update',
    lsn: 0n,
    ...ref,
    old: keyImg(1),
    new: img({ k: 2, v: 'moved', t: '?' }, false),
  });
  const w = merge.high('x');
  // Row 1 moved to key 2 keeping t = 'one', which the window cannot tell: the chunk stops below key 2.
  assert.deepEqual(w?.rows, []);
  assert.deepEqual(w?.progress.key, ['2']);
  assert.equal(w?.progress.inclusive, false);
  assert.equal(w?.progress.done, false);
});

it('an UPDATE without its TOASTed column takes it from the chunk row of the same key', () => {
  const merge = new WatermarkMerge(COLUMNS, [0], compare);
  void merge.expect('x');
  merge.low('x');
  merge.route({ kind: 'update', lsn: 0n, ...ref, new: img({ k: 1, v: 'new', t: '?' }, false) });
  merge.rows(
    'x',
    [
      ['1', 'a', 'toasted'],
      ['3', 'c', 'z'],
    ],
    true,
  );
  const w = merge.high('x');
  assert.deepEqual(w?.rows, [
    ['3', 'c', 'z'],
    ['1', 'new', 'toasted'],
  ]);
  assert.deepEqual(w?.progress.key, ['3']);
  assert.equal(w?.progress.inclusive, true);
});
