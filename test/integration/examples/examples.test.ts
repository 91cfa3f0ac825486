// Each example in examples/ runs as a user would run it (node examples/x.mjs, the package's entry
// points resolved through package.json "exports"), against the throwaway cluster, and its output is
// checked against what PostgreSQL holds.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { parseLsn } from '../../../src/protocol/lsn.js';
import { useCluster } from '../../helpers/cluster.js';
import { runScript, startScript } from '../../helpers/node-script.js';
import { fixturesDir, repoRoot } from '../../helpers/paths.js';
import { runWalduck } from '../../helpers/walduck.js';

const example = (name: string) => join(repoRoot, 'examples', name);

describe('examples', () => {
  const c = useCluster();
  const tmp = mkdtempSync(join(tmpdir(), 'walduck-examples-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  // SCRAM over TLS with the server's certificate checked, as a user pointing at a real server would.
  const source = () =>
    conninfo(c.info, 'scram-sha-256', {
      host: 'localhost',
      sslmode: 'verify-full',
      sslrootcert: c.info.caFile,
    });
  const lsnNow = () => psql(c.info, 'SELECT pg_current_wal_lsn()');

  const grant = (table: string) =>
    psql(c.info, `GRANT SELECT ON ${table} TO ${c.info.roles['scram-sha-256'].user}`);

  it('print-changes prints each change as it happens and stops cleanly on SIGINT', async () => {
    psql(c.info, 'CREATE TABLE ex_print (id int PRIMARY KEY, name text)');
    const run = startScript([example('print-changes.mjs'), source()]);
    await run.waitFor('streaming from');
    psql(c.info, "INSERT INTO ex_print VALUES (1, 'a'), (2, 'it''s \"b\"')");
    psql(c.info, "UPDATE ex_print SET name = 'c' WHERE id = 1; DELETE FROM ex_print WHERE id = 2");
    // Two transactions: the inserts, then the update and delete (one psql command, one transaction).
    await run.waitFor((out) => (out.match(/^commit /gm)?.length ?? 0) >= 2);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => !l.startsWith('streaming') && !l.startsWith('commit'));
    assert.deepEqual(lines.filter(Boolean), [
      `insert public.ex_print ${JSON.stringify({ id: '1', name: 'a' })}`,
      `insert public.ex_print ${JSON.stringify({ id: '2', name: 'it\'s "b"' })}`,
      `update public.ex_print ${JSON.stringify({ id: '1', name: 'c' })}`,
      `delete public.ex_print ${JSON.stringify({ id: '2' })}`,
    ]);
    assert.equal(r.stdout.match(/^commit \d+\/[0-9A-F]+$/gm)?.length, 2);
    // The temporary slot went with the connection.
    assert.equal(
      psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'print_changes_%'"),
      '0',
    );
  });

  it('jsonl-sink follows one table exactly once: a cut-off tail is redone, nothing is written twice', async () => {
    psql(
      c.info,
      'CREATE TABLE ex_orders (id bigint PRIMARY KEY, amount numeric(14,2)); CREATE TABLE ex_other (id int PRIMARY KEY)',
    );
    const out = join(tmp, 'orders.jsonl');
    const run = async (endpos: string) => {
      const r = await runScript([example('jsonl-sink.mjs'), source(), 'public.ex_orders', out, endpos]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    // First run: creates the slot and records where the file begins (no initial copy with a custom sink).
    assert.match(await run(lsnNow()), /^0 changes in 0 transactions/);
    psql(
      c.info,
      'INSERT INTO ex_orders VALUES (9223372036854775807, 12345678901.25), (2, -0.5); INSERT INTO ex_other VALUES (1)',
    );
    psql(c.info, 'UPDATE ex_orders SET amount = 3 WHERE id = 2');
    await run(lsnNow());
    // A crash after writing lines but before the state file moved: those lines were never acknowledged.
    appendFileSync(out, '{"lsn":"0/0","op":"insert","row":{"id":"half');
    psql(c.info, 'DELETE FROM ex_orders WHERE id = 2');
    await run(lsnNow());
    const lines = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.op, l.row]),
      [
        ['insert', { id: '9223372036854775807', amount: '12345678901.25' }],
        ['insert', { id: '2', amount: '-0.50' }],
        ['update', { id: '2', amount: '3.00' }],
        ['delete', { id: '2' }],
      ],
    );
    const state = JSON.parse(readFileSync(`${out}.state`, 'utf8'));
    assert.equal(state.bytes, readFileSync(out).length);
    // The server was told exactly what the state file holds.
    assert.equal(
      psql(
        c.info,
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walduck_walduck'",
      ),
      state.lsn,
    );
    // Each line carries its transaction's end LSN: increasing, none past what the state file covers.
    const lsns = lines.map((l) => parseLsn(l.lsn) ?? 0n);
    assert.ok(
      lsns.every(
        (l, k) => l > 0n && l <= (parseLsn(state.lsn) ?? 0n) && (k === 0 || l >= (lsns[k - 1] ?? 0n)),
      ),
    );
  });

  it('compare-replica compares a replica with PostgreSQL at its stored LSN, and can say different', async () => {
    psql(
      c.info,
      'CREATE TABLE ex_cmp (id int PRIMARY KEY, amount numeric(10,2)); INSERT INTO ex_cmp SELECT g, g * 1.25 FROM generate_series(1, 50) g',
    );
    grant('ex_cmp');
    const file = join(tmp, 'cmp.duckdb');
    const replicate = async () => {
      const r = await runWalduck([
        'replicate',
        '--source',
        source(),
        '--duckdb',
        file,
        '--tables',
        'public.ex_cmp',
        '--slot',
        'ex_cmp',
        '--until-caught-up',
      ]);
      assert.equal(r.code, 0, r.stderr);
    };
    const compare = () =>
      runScript([example('compare-replica.mjs'), source(), file, 'public.ex_cmp', 'amount']);
    await replicate();
    let r = await compare();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: PostgreSQL 50 \/ 1593\.75, DuckDB 50 \/ 1593\.75: equal$/m);
    psql(c.info, 'INSERT INTO ex_cmp VALUES (51, 1)');
    r = await compare();
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /1 change\(s\) of public\.ex_cmp from .* on are not in the replica yet/);
    await replicate();
    // A replica changed by hand: the figures differ, and the example says so.
    const instance = await DuckDBInstance.create(file);
    const duck = await instance.connect();
    await duck.run('DELETE FROM ex_cmp WHERE id = 7');
    duck.closeSync();
    instance.closeSync();
    r = await compare();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /PostgreSQL 51 \/ 1594\.75, DuckDB 50 \/ 1586\.00: DIFFERENT$/m);
  });

  it('decode-file decodes a captured wal2json stream offline, counting what JSON.parse counts', async () => {
    const captured = readFileSync(join(fixturesDir, 'wal2json', 'v2.jsonl'), 'utf8')
      .trimEnd()
      .split('\n');
    const payloads = captured.map((l) => (JSON.parse(l) as { text: string }).text);
    const file = join(tmp, 'captured.jsonl');
    writeFileSync(file, `${payloads.join('\n')}\n`);
    const expected = new Map<string, Record<string, number>>();
    let transactions = 0;
    const kinds: Record<string, string> = { I: 'insert', U: 'update', D: 'delete', T: 'truncate' };
    for (const p of payloads) {
      const m = JSON.parse(p) as { action: string; schema?: string; table?: string };
      if (m.action === 'C') transactions++;
      const kind = kinds[m.action];
      if (!kind) continue;
      const name = `${m.schema}.${m.table}`;
      const c = expected.get(name) ?? { insert: 0, update: 0, delete: 0, truncate: 0 };
      c[kind] = (c[kind] ?? 0) + 1;
      expected.set(name, c);
    }
    assert.ok(transactions > 0 && expected.size > 0, 'the fixture holds transactions');
    const r = await runScript([example('decode-file.mjs'), file]);
    assert.equal(r.code, 0, r.stderr);
    const want = [`${transactions} transactions`].concat(
      [...expected]
        .sort()
        .map(
          ([t, c]) =>
            `${t}: ${c.insert} inserts, ${c.update} updates, ${c.delete} deletes, ${c.truncate} truncates`,
        ),
    );
    assert.deepEqual(r.stdout.trimEnd().split('\n'), want);
    // A damaged file names the line.
    writeFileSync(file, `${payloads[0]}\n{"action":"I","schema":\n`);
    const bad = await runScript([example('decode-file.mjs'), file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^line 2: WALDUCK_WAL2JSON_TRUNCATED: /m);
  });
});
