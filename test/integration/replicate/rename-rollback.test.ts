// A swap (ALTER TABLE a RENAME TO tmp; ALTER TABLE b RENAME TO a; ALTER TABLE tmp RENAME TO b, one
// transaction) inside a DuckDB batch that is rolled back when the connection is cut before its commit:
// the replay from the last commit must place the rename at its transaction again, so that the
// followed table's changes under its old name before the swap stay its own, and the other table's
// changes under either name (b before the swap, a after it) never reach DuckDB. DuckDB is compared
// with PostgreSQL row for row under the followed table's name now.
//
// The batch is held open on purpose: walduck commits when the stream goes quiet (the server's
// keepalive once it has sent everything), so the proxy here drops keepalives until the cut, and
// --batch-ms is far beyond the test. Then every transaction below lies in one DuckDB transaction.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { parseLsn } from '../../../src/protocol/lsn.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { Lines } from '../../helpers/faults.js';
import { replicateArgs, runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-rename-rollback-');

/**
 * A TCP proxy that can hold back the server's keepalives (a CopyData 'k' message: its length field
 * says 4 + 18 bytes) and cut every connection. Server-to-client bytes are framed as the protocol's
 * typed messages (sslmode=disable: no untyped SSL answer precedes them).
 */
class KeepaliveGate {
  holding = false;
  /** Keepalives let through while holding (each lets walduck commit once). */
  passes = 0;
  private readonly pairs = new Set<{ client: Socket; server: Socket }>();
  private constructor(
    private readonly listener: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<KeepaliveGate> {
    let self: KeepaliveGate | undefined;
    const listener = createServer((client) => self?.accept(client, targetPort));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const addr = listener.address();
    self = new KeepaliveGate(listener, typeof addr === 'object' && addr ? addr.port : 0);
    return self;
  }

  private accept(client: Socket, port: number): void {
    const server = createConnection({ host: '127.0.0.1', port });
    const pair = { client, server };
    this.pairs.add(pair);
    for (const s of [client, server]) s.on('error', () => {});
    client.on('data', (d: Buffer) => server.write(d));
    let pending: Buffer = Buffer.alloc(0);
    server.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      let at = 0;
      while (pending.length - at >= 5) {
        const end = at + 1 + pending.readInt32BE(at + 1);
        if (end > pending.length) break;
        const keepalive = pending[at] === 0x64 && end - at === 23 && pending[at + 5] === 0x6b;
        if (keepalive && this.holding && this.passes > 0) this.passes--;
        else if (keepalive && this.holding) {
          at = end;
          continue;
        }
        client.write(pending.subarray(at, end));
        at = end;
      }
      pending = pending.subarray(at);
    });
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', end);
    server.on('close', end);
  }

  /** Resets every open connection: the replication stream and the catalog lookups alike. */
  cut(): void {
    for (const p of this.pairs) {
      p.client.resetAndDestroy();
      p.server.resetAndDestroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.listener.close(() => r()));
  }
}

const pub = (table: string) => ({ schema: 'public', table });

/**
 * The server's WAL position now, taken once the gate holds: a DuckDB commit logged since `from` up to
 * an LSN past it committed the rows that must stay in one open batch. One up to an LSN before it is
 * a keepalive that passed just before the gate closed (walduck commits the empty batch there, and
 * under load it logs that after the gate closed): not the batch under test.
 */
function walNow(): bigint {
  return parseLsn(psql(c.info, 'SELECT pg_current_wal_lsn()')) ?? 0n;
}

function commitsPast(lines: Lines, from: number, lsn: bigint): string[] {
  return lines.all.slice(from).filter((l) => {
    const m = /committed \d+ change\(s\) up to ([0-9A-F]+\/[0-9A-F]+)/.exec(l);
    return m !== null && (parseLsn(m[1] ?? '') ?? 0n) > lsn;
  });
}

// First, while the database holds no other table: all-tables mode copies every one.
describe('a table created while walduck runs (all-tables mode), in a DuckDB batch rolled back by a cut connection', () => {
  it('is created again where the replay reaches its first change, its rows all applied', {
    timeout: 120_000,
  }, async () => {
    psql(c.info, 'CREATE TABLE early (id int PRIMARY KEY, v text); INSERT INTO early VALUES (1, $$e$$)');
    const file = 'new-table.duckdb';
    const gate = await KeepaliveGate.start(c.info.port);
    const args = replicateArgs(
      () => conninfo(c.info, 'scram-sha-256', { port: String(gate.port) }),
      dir,
      600_000,
    );
    const run = startWalduck([...args(file, '--slot', 'new_table_slot')], {
      DEBUG: 'walduck:replicate,walduck:sink',
    });
    const lines = new Lines();
    run.child.stderr?.setEncoding('utf8').on('data', (d: string) => lines.push(d));
    run.done.then((r) => lines.end(`exit ${r.code}: ${r.stderr}`));
    const stuck = setTimeout(() => run.child.kill('SIGKILL'), 90_000);
    const born = /new table public\.born at the source: replicating it from its first change/;
    try {
      await lines.next(/streaming from slot/);
      gate.holding = true;
      const from = lines.all.length;
      const wal = walNow();
      psql(
        c.info,
        `INSERT INTO early VALUES (2, 'before'); COMMIT;
         CREATE TABLE born (id int PRIMARY KEY, v text); INSERT INTO born VALUES (1, 'first'); COMMIT;
         INSERT INTO born VALUES (2, 'second'); UPDATE early SET v = 'after' WHERE id = 1; COMMIT;`,
      );
      const first = await lines.next(born, from);
      assert.deepEqual(commitsPast(lines, from, wal), [], 'the batch is open');
      gate.holding = false;
      gate.cut();
      await lines.next(/reconnecting/, first);
      await lines.next(/committed \d+ change/, first);
      psql(c.info, `INSERT INTO born VALUES (3, 'after the cut')`);
      run.child.kill('SIGINT');
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
    } finally {
      clearTimeout(stuck);
      run.child.kill('SIGKILL');
      await gate.close();
    }
    const done = await runWalduck([
      ...replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)(file, '--slot', 'new_table_slot'),
      '--until-caught-up',
    ]);
    assert.equal(done.code, 0, done.stderr);
    await assertReplicaEquals(c.info, join(dir, file), [pub('early'), pub('born')]);
    psql(c.info, 'DROP TABLE early, born');
  });
});

type Scenario = 'applied' | 'other-first' | 'at-commit';

const titles: Record<Scenario, string> = {
  applied:
    'the rename applied in the open batch, then the cut: the replay applies it at its transaction again',
  'other-first':
    "the other table's rows under the new name before the swap, the rename applied, then the cut: they stay out of DuckDB in the replay",
  'at-commit':
    'the cut right after the swap committed in the stream, before the next transaction: the replay applies the rename at the swap, not at its start',
};

describe('a swap in a DuckDB batch rolled back by a cut connection', () => {
  for (const format of ['2', '1']) {
    for (const scenario of ['applied', 'other-first', 'at-commit'] as const) {
      it(`${titles[scenario]} (format-version ${format})`, { timeout: 180_000 }, async () => {
        const tag = `${format}${scenario === 'applied' ? '' : scenario === 'other-first' ? 'o' : 'c'}`;
        const a = `ra${tag}`;
        const b = `rb${tag}`;
        const m = `rm${tag}`;
        // Both hold ids 1-5: a row of the other table applied to the followed one changes it.
        psql(
          c.info,
          `CREATE TABLE ${a} (id int PRIMARY KEY, v text);
           INSERT INTO ${a} SELECT g, 'a' || g FROM generate_series(1, 20) g;
           CREATE TABLE ${b} (id int PRIMARY KEY, v text);
           INSERT INTO ${b} SELECT g, 'b' || g FROM generate_series(1, 5) g;
           CREATE TABLE ${m} (id serial PRIMARY KEY);`,
        );
        const file = `${a}.duckdb`;
        const slot = `${a}_slot`;
        const gate = await KeepaliveGate.start(c.info.port);
        const args = replicateArgs(
          () => conninfo(c.info, 'scram-sha-256', { port: String(gate.port) }),
          dir,
          600_000,
        );
        const run = startWalduck([...args(file, '--slot', slot, '--tables', a, '--format-version', format)], {
          DEBUG: 'walduck:replicate,walduck:sink',
        });
        const lines = new Lines();
        run.child.stderr?.setEncoding('utf8').on('data', (d: string) => lines.push(d));
        run.done.then((r) => lines.end(`exit ${r.code}: ${r.stderr}`));
        // A line that never comes ends walduck, which fails the wait with its log.
        const stuck = setTimeout(() => run.child.kill('SIGKILL'), 90_000);
        const applied = new RegExp(`public\\.${a}: RENAME TABLE to public\\.${b} applied at LSN`);
        const marked = new RegExp(`changes of public\\.${m} are not replicated`);
        const seen = new RegExp(`table public\\.${a} is named public\\.${b} in the source catalog`);
        const poked = /message prefix="walduck-test"/;
        // One query string, each statement its own transaction (COMMIT ends psql's implicit one).
        const run1 = (...txs: string[]) => psql(c.info, txs.map((t) => `${t}; COMMIT;`).join('\n'));
        const swap = `ALTER TABLE ${a} RENAME TO ${a}_tmp; ALTER TABLE ${b} RENAME TO ${a}; ALTER TABLE ${a}_tmp RENAME TO ${b}`;
        const before = [
          `INSERT INTO ${a} VALUES (21, 'followed, before the swap')`,
          `UPDATE ${a} SET v = 'followed, before the swap' WHERE id = 2`,
        ];
        const after = [
          `UPDATE ${a} SET v = 'other, after the swap' WHERE id = 3`,
          `INSERT INTO ${a} VALUES (6, 'other, after the swap')`,
          `INSERT INTO ${b} VALUES (22, 'followed, after the swap')`,
          `UPDATE ${b} SET v = 'followed, after the swap' WHERE id = 4`,
          `DELETE FROM ${b} WHERE id = 5`,
        ];
        try {
          await lines.next(/streaming from slot/);
          gate.holding = true;
          const from = lines.all.length;
          const wal = walNow();
          if (scenario === 'other-first') {
            // Under b, the other table's: the name is then known as not followed.
            run1(`UPDATE ${b} SET v = 'other, before the swap' WHERE id = 1`);
            await lines.next(new RegExp(`changes of public\\.${b} are not replicated`), from);
          }
          let cutAfter: number;
          if (scenario === 'at-commit') {
            // A message inside the swap's transaction says the stream reached it.
            run1(...before, `BEGIN; SELECT pg_logical_emit_message(true, 'walduck-test', 'in'); ${swap}`);
            let inSwap = await lines.next(poked, from);
            // Unless the swap was known before the stream reached it, one keepalive lets walduck try to
            // commit (pg_switch_wal wakes the server to send one): its catalog check finds the swap
            // and the batch is read again, knowing it, so that the swap's commit is noted.
            if (!lines.all.slice(from, inSwap).some((l) => seen.test(l))) {
              gate.passes = 1;
              psql(c.info, 'SELECT pg_switch_wal()');
              inSwap = await lines.next(poked, await lines.next(/WALDUCK_RENAME_REPLAY/, from));
            }
            // The swap's commit comes next. Format 2 sends it as its own message: a message that is no
            // transaction, after it, says it was read. Format 1 has it in the same document (a poke
            // would be a transaction, which takes the rename): read before walduck reads the socket again.
            if (format === '2') {
              psql(c.info, `SELECT pg_logical_emit_message(false, 'walduck-test', 'after')`);
              inSwap = await lines.next(poked, inSwap + 1);
            }
            cutAfter = inSwap;
            assert.ok(!lines.all.slice(from).some((l) => applied.test(l)), 'not applied before the cut');
          } else {
            run1(...before, `BEGIN; ${swap}`, ...after, `INSERT INTO ${m} DEFAULT VALUES`);
            // The followed table's rows under its new name find the swap (the batch is read again,
            // knowing it), unless they were dropped as the other table's name: then one keepalive
            // lets walduck try to commit, whose catalog check finds it.
            await lines.next(marked, from);
            if (!lines.all.slice(from).some((l) => applied.test(l))) {
              gate.passes = 1;
              psql(c.info, 'SELECT pg_switch_wal()');
            }
            cutAfter = await lines.next(applied, from);
          }
          assert.deepEqual(
            commitsPast(lines, from, wal),
            [],
            'no DuckDB commit since the rows began: the batch is open',
          );
          gate.holding = false;
          gate.cut();
          await lines.next(/reconnecting/, cutAfter);
          if (scenario === 'at-commit') run1(...after);
          const replayed = await lines.next(applied, cutAfter + 1);
          await lines.next(/committed \d+ change/, replayed);
          run.child.kill('SIGINT');
          const r = await run.done;
          assert.equal(r.code, 0, r.stderr);
          assert.doesNotMatch(r.stderr, /re-copying/, 'placed exactly: no re-copy');
        } finally {
          clearTimeout(stuck);
          run.child.kill('SIGKILL');
          await gate.close();
        }
        await assertReplicaEquals(c.info, join(dir, file), [pub(b)]);
        const done = await runWalduck([
          ...replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir)(
            file,
            '--slot',
            slot,
            '--tables',
            b,
            '--format-version',
            format,
          ),
          '--until-caught-up',
        ]);
        assert.equal(done.code, 0, done.stderr);
        await assertReplicaEquals(c.info, join(dir, file), [pub(b)]);
      });
    }
  }
});
