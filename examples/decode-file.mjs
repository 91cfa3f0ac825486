// Decode a captured wal2json file offline: no server, no DuckDB. The file holds one wal2json
// format-version 2 payload per line, as `walduck stream -o format-version=2 -f FILE` or
// `pg_recvlogical -f FILE` write it. Prints the changes per table.
//   node examples/decode-file.mjs changes.jsonl
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createDecoder, Wal2JsonError } from 'walduck/wal2json';

const decoder = createDecoder({ formatVersion: 2, log: (msg) => console.error(msg) });
const counts = new Map(); // "schema.table" -> { insert, update, delete, truncate }
const count = (name, kind) => {
  const c = counts.get(name) ?? { insert: 0, update: 0, delete: 0, truncate: 0 };
  c[kind]++;
  counts.set(name, c);
};
let transactions = 0;
let line = 0;
// A file keeps no WAL positions, so each line is given its line number where the LSN would go: an
// error then names the line, and a commit's "LSN" is the line of its C record.
for await (const text of createInterface({ input: createReadStream(process.argv[2]) })) {
  line++;
  if (text === '') continue;
  try {
    for (const c of decoder.decode(Buffer.from(text), BigInt(line))) {
      if (c.kind === 'commit') transactions++;
      else if (c.kind === 'truncate') for (const t of c.tables) count(`${t.schema}.${t.table}`, 'truncate');
      else if (c.kind !== 'begin' && c.kind !== 'message') count(`${c.schema}.${c.table}`, c.kind);
    }
  } catch (err) {
    if (!(err instanceof Wal2JsonError)) throw err;
    console.error(`line ${line}: ${err.code}: ${err.message}`);
    process.exit(1);
  }
}
console.log(`${transactions} transactions`);
for (const [table, c] of [...counts].sort()) {
  console.log(
    `${table}: ${c.insert} inserts, ${c.update} updates, ${c.delete} deletes, ${c.truncate} truncates`,
  );
}
