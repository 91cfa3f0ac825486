// Source DDL while replicating: ADD / DROP / RENAME COLUMN and widening type changes are followed in
// stream order, with a writer running through them, in both wal2json formats; the catalog may be
// ahead of the stream; a kill -9 right after a DDL loses nothing; what cannot be followed stops with
// one line and is never acknowledged. Every check compares DuckDB with PostgreSQL column by column,
// by name, and the DuckDB column types with the type mapping of the source's columns now.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql, psqlArgs } from '../../../src/cluster/throwaway.js';
import { quoteLiteral } from '../../../src/sink/sql.js';
import { describeTarget } from '../../../src/sink/target.js';
import { readSourceTables } from '../../../src/source/source-tables.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals, psqlQuery } from '../../helpers/compare.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck, startWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster();
const dir = useWorkdir('walduck-ddl-');

function args(file: string, table: string, format: 1 | 2, more: string[] = []): string[] {
  return [
    'replicate',
    '--source',
    conninfo(c.info, 'scram-sha-256'),
    '--duckdb',
    file,
    '--tables',
    table,
    '--slot',
    `ddl_${table}`,
    '--format-version',
    String(format),
    '--batch-ms',
    '20',
    ...more,
  ];
}

/** DuckDB equals PostgreSQL row for row on every source column, and each has the type mapped from the source's. */
async function assertFollows(file: string, table: string): Promise<void> {
  await assertReplicaEquals(c.info, file, [{ schema: 'public', table }]);
  const [source] = await readSourceTables(psqlQuery(c.info), [{ schema: 'public', table }]);
  assert.ok(source);
  const target = describeTarget(source, 'memory');
  const have = new Map(
    (
      await duckQuery(
        file,
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ${quoteLiteral(table)}`,
      )
    ).map((r) => [String(r[0]), String(r[1])]),
  );
  const norm = (t: string) =>
    t.replace(/\s+/g, '').toUpperCase().replace('TIMESTAMPWITHTIMEZONE', 'TIMESTAMPTZ');
  for (const [i, col] of source.columns.entries())
    assert.equal(
      norm(have.get(col.name) ?? '(missing)'),
      norm(target.mappings[i]?.duckType ?? ''),
      `${table}.${col.name}`,
    );
}

function runScript(sql: string): Promise<number | null> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.sql`);
  writeFileSync(file, sql);
  const p = spawn('psql', [...psqlArgs(c.info), '-q', '-f', file], { stdio: 'ignore' });
  return new Promise((resolve) => p.on('close', resolve));
}

/** Small transactions on the columns no DDL touches (id, k), ids from `base` on. */
function writerScript(table: string, base: number, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = base + (i % 40);
    lines.push(
      i % 5 === 4
        ? `DELETE FROM ${table} WHERE id = ${id};`
        : `INSERT INTO ${table} (id, k) VALUES (${id}, ${i}) ON CONFLICT (id) DO UPDATE SET k = ${table}.k + 1;`,
    );
  }
  return lines.join('\n');
}

/** Each DDL with data changes before and after it; one inside a transaction; two in quick succession. */
function ddlScript(t: string): string {
  return `
INSERT INTO ${t} VALUES (100, 1, 100, 'b100', 1.25, '2024-02-01 10:00', 'd100');
ALTER TABLE ${t} ADD COLUMN c int DEFAULT 7;
INSERT INTO ${t} (id, k, a, c) VALUES (101, 1, 101, 8);
UPDATE ${t} SET k = k + 1 WHERE id = 1;
ALTER TABLE ${t} ADD COLUMN e text;
INSERT INTO ${t} (id, k, e) VALUES (102, 1, 'e102');
ALTER TABLE ${t} RENAME COLUMN a TO a2;
UPDATE ${t} SET a2 = a2 + 1 WHERE id = 2;
ALTER TABLE ${t} ALTER COLUMN a2 TYPE bigint;
INSERT INTO ${t} (id, k, a2) VALUES (103, 1, 9000000000);
ALTER TABLE ${t} ALTER COLUMN b TYPE text;
INSERT INTO ${t} (id, k, b) VALUES (104, 1, 'a text longer than ten');
ALTER TABLE ${t} ALTER COLUMN n TYPE numeric(14,2);
INSERT INTO ${t} (id, k, n) VALUES (105, 1, 123456789012.34);
ALTER TABLE ${t} ALTER COLUMN ts TYPE timestamptz;
INSERT INTO ${t} (id, k, ts) VALUES (106, 1, '2024-03-01 10:00+02');
UPDATE ${t} SET k = k + 1 WHERE id = 3;
ALTER TABLE ${t} DROP COLUMN d;
INSERT INTO ${t} (id, k) VALUES (107, 1);
UPDATE ${t} SET k = k + 1 WHERE id = 4;
BEGIN;
INSERT INTO ${t} (id, k) VALUES (108, 1);
UPDATE ${t} SET k = k + 1 WHERE id = 5;
ALTER TABLE ${t} ADD COLUMN f int DEFAULT 1;
INSERT INTO ${t} (id, k, f) VALUES (109, 1, 2);
UPDATE ${t} SET f = 3 WHERE id = 100;
DELETE FROM ${t} WHERE id = 101;
COMMIT;
ALTER TABLE ${t} ADD COLUMN g int;
ALTER TABLE ${t} RENAME COLUMN g TO g2;
INSERT INTO ${t} (id, k, g2) VALUES (110, 1, 110);
ALTER TABLE ${t} RENAME COLUMN e TO e2;
ALTER TABLE ${t} RENAME COLUMN e2 TO e3;
UPDATE ${t} SET e3 = 'renamed twice' WHERE id = 102;
ALTER TABLE ${t} DROP COLUMN c;
ALTER TABLE ${t} ADD COLUMN c text DEFAULT 'again';
INSERT INTO ${t} (id, k) VALUES (111, 1);
`;
}

function createTable(t: string): void {
  psql(
    c.info,
    `CREATE TABLE ${t} (id int PRIMARY KEY, k int, a int, b varchar(10), n numeric(8,2), ts timestamp, d text);
     INSERT INTO ${t} SELECT g, g, g, 'b' || g, g * 1.5, '2024-01-01'::timestamp + g * interval '1 hour', 'd' || g FROM generate_series(1, 20) g`,
  );
}

for (const format of [2, 1] as const) {
  it(`follows ADD/DROP/RENAME COLUMN and widening types with a writer running (format-version ${format})`, async () => {
    const t = `ddl_v${format}`;
    createTable(t);
    const file = join(dir, `${t}.duckdb`);
    const init = await runWalduck([...args(file, t, format), '--until-caught-up']);
    assert.equal(init.code, 0, init.stderr);

    const live = startWalduck(args(file, t, format), { DEBUG: 'walduck:replicate' });
    await new Promise<void>((resolve, reject) => {
      live.child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('streaming from slot')) resolve();
      });
      live.done.then((r) => reject(new Error(`replicator ended before streaming: ${r.stderr}`)));
    });
    const [w, d] = await Promise.all([runScript(writerScript(t, 1000, 300)), runScript(ddlScript(t))]);
    assert.equal(w, 0, 'writer failed');
    assert.equal(d, 0, 'DDL script failed');
    // Everything is committed on the source; the live run stops gracefully, a last run catches up.
    live.child.kill('SIGTERM');
    const first = await live.done;
    assert.equal(first.code, 0, first.stderr);
    const last = await runWalduck([...args(file, t, format), '--until-caught-up']);
    assert.equal(last.code, 0, last.stderr);
    await assertFollows(file, t);

    const said = first.stderr + last.stderr;
    for (const line of [
      'ADD COLUMN c integer',
      'ADD COLUMN e text',
      'RENAME COLUMN a TO a2',
      'ALTER COLUMN a2 TYPE bigint',
      'ALTER COLUMN b TYPE text',
      'ALTER COLUMN n TYPE numeric(14,2)',
      'ALTER COLUMN ts TYPE timestamp with time zone',
      'DROP COLUMN d',
      'ADD COLUMN f integer',
      'DROP COLUMN c',
      'ADD COLUMN c text',
    ])
      assert.match(
        said,
        new RegExp(`public\\.${t}: ${line.replace(/[()]/g, '\\$&')}.* applied at LSN \\d`),
        line,
      );
    // Two DDLs in quick succession are one step when no change of the table came between them.
    assert.match(
      said,
      /ADD COLUMN g integer applied.*RENAME COLUMN g TO g2 applied|ADD COLUMN g2 integer applied/s,
    );
    assert.match(
      said,
      /RENAME COLUMN e TO e2 applied.*RENAME COLUMN e2 TO e3 applied|RENAME COLUMN e TO e3 applied/s,
    );
    // --on-drop-column keep: the dropped columns stay, with their values in the rows written before.
    // Rows 1-20 and 100 had d when it was dropped; 4, 5 and 100 were updated afterwards.
    assert.deepEqual(await duckQuery(file, `SELECT count(d) FROM ${t}`), [[18n]]);
    // c (attnum 8) was dropped and added again: the kept one gave its name up and holds the values
    // of the rows written while it existed (102), none in rows written after its drop (111).
    assert.deepEqual(
      await duckQuery(file, `SELECT id, c_dropped_8 FROM ${t} WHERE id IN (102, 111) ORDER BY id`),
      [
        [102, 7],
        [111, null],
      ],
    );
  });
}

it('follows DDLs the catalog is already past: renames twice, added then renamed, added then dropped, rewritten since', async () => {
  const t = 'ddl_ahead';
  createTable(t);
  const file = join(dir, `${t}.duckdb`);
  const init = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(init.code, 0, init.stderr);
  // walduck is not running: by the time it reads the stream, the catalog shows the end of all this.
  assert.equal(
    await runScript(`
ALTER TABLE ${t} ADD COLUMN c int DEFAULT 5;
INSERT INTO ${t} (id, k, c) VALUES (100, 1, 6);
ALTER TABLE ${t} RENAME COLUMN c TO c2;
INSERT INTO ${t} (id, k, c2) VALUES (101, 1, 7);
ALTER TABLE ${t} RENAME COLUMN a TO a2;
UPDATE ${t} SET a2 = 0 WHERE id = 1;
ALTER TABLE ${t} RENAME COLUMN a2 TO a3;
DELETE FROM ${t} WHERE id = 2;
ALTER TABLE ${t} ADD COLUMN h int;
INSERT INTO ${t} (id, k, h) VALUES (102, 1, 102);
ALTER TABLE ${t} DROP COLUMN h;
INSERT INTO ${t} (id, k) VALUES (103, 1);
ALTER TABLE ${t} ALTER COLUMN k TYPE bigint;
INSERT INTO ${t} (id, k) VALUES (104, 9000000000);
`),
    0,
  );
  const r = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(r.code, 0, r.stderr);
  await assertFollows(file, t);
  assert.match(r.stderr, /ADD COLUMN c integer applied/);
  assert.match(r.stderr, /RENAME COLUMN c TO c2 applied/);
  assert.match(r.stderr, /RENAME COLUMN a TO a2 applied/);
  assert.match(r.stderr, /RENAME COLUMN a2 TO a3 applied/);
  assert.match(r.stderr, /DROP COLUMN h applied/);
});

it('kill -9 right after a DDL: the restart resumes with the schema and rows the source has', async () => {
  const t = 'ddl_kill';
  createTable(t);
  const file = join(dir, `${t}.duckdb`);
  const init = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(init.code, 0, init.stderr);
  for (const [i, ddl] of [
    `ALTER TABLE ${t} ADD COLUMN x int DEFAULT 3`,
    `ALTER TABLE ${t} RENAME COLUMN b TO b2`,
    `ALTER TABLE ${t} DROP COLUMN d`,
  ].entries()) {
    const live = startWalduck(args(file, t, 2), { DEBUG: 'walduck:replicate' });
    const applied = new Promise<void>((resolve, reject) => {
      live.child.stderr?.on('data', (d: Buffer) => {
        if (/applied at LSN/.test(d.toString())) resolve();
      });
      live.done.then((r) => reject(new Error(`replicator ended before the DDL was applied: ${r.stderr}`)));
    });
    await new Promise<void>((resolve) => {
      live.child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('streaming from slot')) resolve();
      });
    });
    assert.equal(
      await runScript(
        `UPDATE ${t} SET k = k + 1 WHERE id = ${i + 1}; ${ddl}; INSERT INTO ${t} (id, k) VALUES (${200 + i}, 1);`,
      ),
      0,
    );
    await applied;
    live.child.kill('SIGKILL');
    const killed = await live.done;
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  }
  const last = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(last.code, 0, last.stderr);
  await assertFollows(file, t);
});

/** confirmed_flush_lsn of the slot and the LSN walduck.state holds, as bigints. */
async function ackedLsns(file: string, slot: string): Promise<{ slot: bigint; state: bigint }> {
  const text = psql(
    c.info,
    `SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = '${slot}'`,
  );
  const state = await duckQuery(file, 'SELECT lsn_bytes FROM walduck.state');
  return { slot: BigInt(text), state: BigInt(state[0]?.[0] as bigint) };
}

for (const format of [2, 1] as const) {
  it(`stops with one line at a change it cannot follow, and never acknowledges it (format-version ${format})`, async () => {
    const t = `ddl_refuse_v${format}`;
    psql(
      c.info,
      `CREATE TABLE ${t} (id int PRIMARY KEY, t text); INSERT INTO ${t} VALUES (1, '1'), (2, '2')`,
    );
    const file = join(dir, `${t}.duckdb`);
    const init = await runWalduck([...args(file, t, format), '--until-caught-up']);
    assert.equal(init.code, 0, init.stderr);
    psql(c.info, `INSERT INTO ${t} VALUES (3, '3')`);
    const before = BigInt(psql(c.info, "SELECT pg_current_wal_insert_lsn() - '0/0'"));
    psql(
      c.info,
      `BEGIN; INSERT INTO ${t} VALUES (4, '4'); ALTER TABLE ${t} ALTER COLUMN t TYPE int USING t::int; INSERT INTO ${t} VALUES (5, 5); COMMIT`,
    );
    for (const extra of [[], ['--on-type-change', 'stop']]) {
      const r = await runWalduck([...args(file, t, format, extra), '--until-caught-up']);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('walduck:') && !l.includes('warning: wal2json'));
      const stop = lines.filter((l) => l.includes('schema change'));
      assert.equal(stop.length, 1, r.stderr);
      assert.match(
        stop[0] ?? '',
        new RegExp(
          `schema change on public\\.${t} at LSN [0-9A-F]+/[0-9A-F]+ not applied: column t changed type from text to integer.*walduck resync --table public\\.${t}`,
        ),
      );
      // The refused transaction is not acknowledged, nor recorded: what came before it is.
      const acked = await ackedLsns(file, `ddl_${t}`);
      assert.ok(
        acked.slot <= before && acked.state <= before,
        `acknowledged past the refused transaction: ${JSON.stringify(acked, (_, v) => String(v))} > ${before}`,
      );
      // Nothing of the refused transaction (4, 5); 3 unless it shared the rolled-back DuckDB batch.
      const ids = JSON.stringify(
        (await duckQuery(file, `SELECT id FROM ${t} ORDER BY id`)).map((row) => row[0]),
      );
      assert.ok(ids === '[1,2,3]' || ids === '[1,2]', ids);
    }
    // --on-type-change recopy heals the same stop: the table rebuilt as int, copied again online.
    const r = await runWalduck([
      ...args(file, t, format, ['--on-type-change', 'recopy']),
      '--until-caught-up',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `public\\.${t}: column t changed type from text to integer, which DuckDB cannot follow losslessly in place, at LSN [0-9A-F]+/[0-9A-F]+: re-copying public\\.${t} online with its new schema`,
      ),
    );
    await assertFollows(file, t);
  });
}

it('re-copies a table online after a narrowing type change with a writer running (--on-type-change recopy)', async () => {
  const t = 'ddl_recopy';
  psql(
    c.info,
    `CREATE TABLE ${t} (id int PRIMARY KEY, k int, n numeric(10,2), v varchar(40));
     INSERT INTO ${t} SELECT g, g, g * 1.5, 'v' || g FROM generate_series(1, 3000) g`,
  );
  const file = join(dir, `${t}.duckdb`);
  const argv = args(file, t, 2, ['--on-type-change', 'recopy', '--copy-chunk-rows', '200']);
  assert.equal((await runWalduck([...argv, '--until-caught-up'])).code, 0);
  const run = startWalduck(argv, { DEBUG: 'walduck:replicate,walduck:sink' });
  let err = '';
  const seen = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => re.test(err) && resolve();
      run.child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        check();
      });
      check();
      run.done.then((r) => reject(new Error(`walduck ended before ${re}: ${r.stderr.slice(-2000)}`)));
    });
  try {
    await seen(/streaming from slot/);
    const w = runScript(writerScript(t, 1, 400));
    psql(
      c.info,
      `INSERT INTO ${t} VALUES (5001, 1, 12.5, 'before'); ALTER TABLE ${t} ALTER COLUMN n TYPE numeric(9,1), ALTER COLUMN v TYPE varchar(10); INSERT INTO ${t} VALUES (5002, 2, 3.5, 'after')`,
    );
    // The writer goes on through the copy's windows.
    const w2 = runScript(writerScript(t, 2000, 400));
    await seen(/online copy of public\.ddl_recopy: chunk \d+ wrote \d+ row\(s\) \(\d+ in all\), done/);
    assert.equal(await w, 0);
    assert.equal(await w2, 0);
  } finally {
    run.child.kill('SIGINT');
  }
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /public\.ddl_recopy: column \w+ changed type from .* re-copying public\.ddl_recopy online with its new schema/,
  );
  const last = await runWalduck([...argv, '--until-caught-up']);
  assert.equal(last.code, 0, last.stderr);
  await assertFollows(file, t);
});

it('stops at a primary key change and at a narrowing', async () => {
  const t = 'ddl_pk';
  psql(
    c.info,
    `CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL, v varchar(20)); INSERT INTO ${t} VALUES (1, 1, 'x')`,
  );
  const file = join(dir, `${t}.duckdb`);
  assert.equal((await runWalduck([...args(file, t, 2), '--until-caught-up'])).code, 0);
  psql(c.info, `ALTER TABLE ${t} ALTER COLUMN v TYPE varchar(5); INSERT INTO ${t} VALUES (2, 2, 'y')`);
  const narrow = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(narrow.code, 1, narrow.stderr);
  assert.match(narrow.stderr, /column v changed type from character varying\(20\) to character varying\(5\)/);
  // The command the line names clears the stop: the table is rebuilt with varchar(5) and copied again.
  const resync = await runWalduck(['resync', '--duckdb', file, '--table', `public.${t}`]);
  assert.equal(resync.code, 0, resync.stderr);
  const healed = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(healed.code, 0, healed.stderr);
  assert.match(
    healed.stderr,
    /public\.ddl_pk: its schema changed at the source since it was recorded: rebuilt/,
  );
  await assertFollows(file, t);
  const t2 = 'ddl_pk2';
  psql(c.info, `CREATE TABLE ${t2} (id int PRIMARY KEY, u int NOT NULL); INSERT INTO ${t2} VALUES (1, 1)`);
  const file2 = join(dir, `${t2}.duckdb`);
  assert.equal((await runWalduck([...args(file2, t2, 2), '--until-caught-up'])).code, 0);
  psql(
    c.info,
    `ALTER TABLE ${t2} DROP CONSTRAINT ${t2}_pkey; ALTER TABLE ${t2} ADD PRIMARY KEY (u); INSERT INTO ${t2} VALUES (2, 2)`,
  );
  const pk = await runWalduck([...args(file2, t2, 2), '--until-caught-up']);
  assert.equal(pk.code, 1, pk.stderr);
  assert.match(
    pk.stderr,
    /its primary key changed from \(id\) to \(u\).*walduck resync --table public\.ddl_pk2/,
  );
  assert.equal((await runWalduck(['resync', '--duckdb', file2, '--table', `public.${t2}`])).code, 0);
  const healed2 = await runWalduck([...args(file2, t2, 2), '--until-caught-up']);
  assert.equal(healed2.code, 0, healed2.stderr);
  await assertFollows(file2, t2);
});

it('resync after a primary key change to a key type an online copy cannot order: one WALDUCK line, the DuckDB table left as it was', async () => {
  const t = 'ddl_pk_ts';
  psql(
    c.info,
    `CREATE TABLE ${t} (id int PRIMARY KEY, k int, ts timestamptz NOT NULL); INSERT INTO ${t} VALUES (1, 1, '2024-01-01 10:00+00')`,
  );
  const file = join(dir, `${t}.duckdb`);
  assert.equal((await runWalduck([...args(file, t, 2), '--until-caught-up'])).code, 0);
  psql(
    c.info,
    `ALTER TABLE ${t} DROP CONSTRAINT ${t}_pkey; ALTER TABLE ${t} ADD PRIMARY KEY (ts); INSERT INTO ${t} VALUES (2, 2, '2024-01-02 10:00+00')`,
  );
  const pk = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(pk.code, 1, pk.stderr);
  assert.match(pk.stderr, /its primary key changed from \(id\) to \(ts\)/);
  assert.equal((await runWalduck(['resync', '--duckdb', file, '--table', `public.${t}`])).code, 0);
  const refused = await runWalduck([...args(file, t, 2), '--until-caught-up']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.doesNotMatch(refused.stderr, /RangeError|internal/i);
  const lines = refused.stderr.trim().split('\n');
  assert.equal(lines.length, 1, refused.stderr);
  assert.match(
    lines[0] ?? '',
    /public\.ddl_pk_ts: its schema changed at the source since it was recorded, and it cannot be copied online with the new one: table public\.ddl_pk_ts has key column ts of type timestamp with time zone, which an online copy cannot order exactly/,
  );
  assert.deepEqual(await duckQuery(file, `SELECT id, k FROM ${t} ORDER BY id`), [[1, 1]]);
});
