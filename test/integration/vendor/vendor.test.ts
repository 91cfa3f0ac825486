// Vendoring, proven: src/protocol (and src/protocol + src/wal2json) copied alone into an empty project
// with nothing but TypeScript and Node's type declarations, compiled with walduck's own strict compiler
// options, then run against the throwaway cluster as a vendor's program would run (test/vendor/*.ts).
// The project lives outside this checkout, so a package import anywhere in the copy fails to resolve.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { startScript } from '../../helpers/node-script.js';
import { fixturesDir, repoRoot } from '../../helpers/paths.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** An empty project holding copies of `rooms` (src/<room> -> ./<room>) and `files`, compiled. */
function vendorProject(rooms: readonly string[], files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'walduck-vendor-'));
  made.push(dir);
  for (const room of rooms) {
    cpSync(join(repoRoot, 'src', room), join(dir, room), {
      recursive: true,
      filter: (p) => !p.endsWith('.md'),
    });
  }
  for (const [to, from] of Object.entries(files)) {
    mkdirSync(join(dir, to, '..'), { recursive: true });
    cpSync(from, join(dir, to));
  }
  // Only TypeScript and Node's declarations (types, no code) under node_modules.
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules', 'typescript'), join(dir, 'node_modules', 'typescript'));
  symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  // walduck's own compiler options, as they are today (strict, exactOptionalPropertyTypes, …).
  const { compilerOptions } = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: Record<string, unknown>;
  };
  const options = { ...compilerOptions, rootDir: '.', outDir: 'out', declaration: false, sourceMap: false };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, exclude: ['out'] }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vendor', private: true, type: 'module' }));
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string };
    assert.fail(`the copy does not compile on its own:\n${e.stdout ?? String(err)}`);
  }
  assert.deepEqual(readdirSync(join(dir, 'node_modules')).sort(), ['@types', 'typescript']);
  return dir;
}

describe('vendoring', () => {
  const c = useCluster();
  // SCRAM with channel binding, over TLS with the certificate and host name checked: nothing weaker.
  const source = () =>
    conninfo(c.info, 'scram-sha-256', {
      host: 'localhost',
      sslmode: 'verify-full',
      sslrootcert: c.info.caFile,
      require_auth: 'scram-sha-256',
      channel_binding: 'require',
    });

  it('src/protocol alone compiles strictly and runs a replication session: slot, stream, acknowledge', async () => {
    const dir = vendorProject(['protocol'], {
      'session.ts': join(repoRoot, 'test', 'vendor', 'protocol-session.ts'),
    });
    psql(c.info, 'CREATE TABLE vendor_p (id int PRIMARY KEY)');
    const run = startScript([join(dir, 'out', 'session.js'), source()], { cwd: dir });
    await run.waitFor('streaming');
    psql(c.info, 'INSERT INTO vendor_p VALUES (1), (2)');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout.trimEnd().split('\n').at(-1) ?? '') as Record<string, unknown>;
    assert.deepEqual(seen.actions, ['B', 'I', 'I', 'C']);
    // The server moved the slot to exactly what the vendor's program acknowledged.
    assert.equal(seen.confirmed, seen.acknowledged);
    assert.equal(seen.sslmode, 'verify-full');
  });

  for (const version of ['2', '1'] as const) {
    it(`src/protocol + src/wal2json compile strictly and decode a live stream (format ${version})`, async () => {
      const dir = vendorProject(['protocol', 'wal2json'], {
        'session.ts': join(repoRoot, 'test', 'vendor', 'wal2json-session.ts'),
      });
      psql(
        c.info,
        `CREATE TABLE vendor_w${version} (id bigint PRIMARY KEY, n numeric, t text, at timestamptz)`,
      );
      psql(c.info, 'CREATE TABLE IF NOT EXISTS vendor_end (id int PRIMARY KEY)');
      const run = startScript([join(dir, 'out', 'session.js'), source(), version], { cwd: dir });
      await run.waitFor('streaming');
      psql(
        c.info,
        `INSERT INTO vendor_w${version} VALUES (-9223372036854775808, 12345678901234567890.000000000000000001, E'tab\\t"q"\\\\', '2024-02-29 23:59:59.999999+00');
         UPDATE vendor_w${version} SET t = 'é' WHERE id = -9223372036854775808;
         DELETE FROM vendor_w${version};
         INSERT INTO vendor_end VALUES (${version})`,
      );
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      const changes = r.stdout
        .trimEnd()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map(
          (l) =>
            JSON.parse(l) as {
              kind: string;
              table?: string;
              new?: { values: unknown[] };
              old?: { values: unknown[] };
            },
        );
      const mine = changes.filter((ch) => ch.table === `vendor_w${version}`);
      assert.deepEqual(
        mine.map((ch) => [ch.kind, (ch.new ?? ch.old)?.values]),
        [
          [
            'insert',
            [
              '-9223372036854775808',
              '12345678901234567890.000000000000000001',
              'tab\t"q"\\',
              '2024-02-29 23:59:59.999999+00',
            ],
          ],
          [
            'update',
            [
              '-9223372036854775808',
              '12345678901234567890.000000000000000001',
              'é',
              '2024-02-29 23:59:59.999999+00',
            ],
          ],
          ['delete', ['-9223372036854775808']],
        ],
      );
      assert.deepEqual(
        changes.map((ch) => ch.kind).filter((k) => k === 'begin' || k === 'commit'),
        ['begin', 'commit'],
      );
    });
  }

  it('src/wal2json with src/protocol/lsn.ts and errors.ts alone compiles strictly and decodes a captured stream', () => {
    const decode = join(dir0(), 'decode.ts');
    writeFileSync(
      decode,
      [
        "import { readFileSync } from 'node:fs';",
        "import { createDecoder } from './wal2json/index.js';",
        "import { parseLsn } from './protocol/lsn.js';",
        'const d = createDecoder({ formatVersion: 2 });',
        'let n = 0;',
        "for (const line of readFileSync(process.argv[2] ?? '', 'utf8').trimEnd().split('\\n')) {",
        '  const { lsn, text } = JSON.parse(line) as { lsn: string; text: string };',
        '  for (const c of d.decode(Buffer.from(text), parseLsn(lsn) ?? 0n)) if (c.kind === "commit") n++;',
        '}',
        'console.log(n);',
      ].join('\n'),
    );
    const dir = vendorProject(['wal2json'], {
      'protocol/lsn.ts': join(repoRoot, 'src', 'protocol', 'lsn.ts'),
      'protocol/errors.ts': join(repoRoot, 'src', 'protocol', 'errors.ts'),
      'decode.ts': decode,
    });
    const fixture = join(fixturesDir, 'wal2json', 'v2.jsonl');
    const out = execFileSync(process.execPath, [join(dir, 'out', 'decode.js'), fixture], {
      encoding: 'utf8',
    });
    const commits = readFileSync(fixture, 'utf8')
      .split('\n')
      .filter((l) => l.includes('\\"action\\":\\"C\\"'));
    assert.equal(Number(out.trim()), commits.length);
    assert.ok(commits.length > 0);
  });
});

function dir0(): string {
  const d = mkdtempSync(join(tmpdir(), 'walduck-vendor-src-'));
  made.push(d);
  return d;
}
