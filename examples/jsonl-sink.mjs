// Follow one table into a JSON-lines file, exactly once, with your own sink (ChangeSink): one line per
// change with its transaction's end LSN; a state file holds the committed LSN and the file's committed
// length, replaced atomically. After a crash the file is cut back and replication resumes after the LSN.
//   node examples/jsonl-sink.mjs CONNINFO public.orders orders.jsonl [ENDPOS]
import * as fs from 'node:fs';
import { replicate } from 'walduck';
import { formatLsn, parseLsn } from 'walduck/protocol';

const [source, table, out, endpos] = process.argv.slice(2);
const statePath = `${out}.state`;
const fresh = !fs.existsSync(statePath);
const saved = fresh ? { lsn: '0/0', bytes: 0 } : JSON.parse(fs.readFileSync(statePath, 'utf8'));
const fd = fs.openSync(out, 'a');
fs.truncateSync(out, saved.bytes); // written after the last commit, so never acknowledged: redo it
let [committed, bytes, txEnd, seen] = [saved.bytes, saved.bytes, 0n, undefined];
const sink = {
  storedLsn: parseLsn(saved.lsn),
  inSourceTransaction: false,
  hasUncommitted: false,
  get due() {
    return !this.inSourceTransaction && this.hasUncommitted;
  },
  async apply(c) {
    this.hasUncommitted = true;
    if (c.kind === 'begin') [this.inSourceTransaction, txEnd] = [true, c.endLsn ?? 0n];
    else if (c.kind === 'commit') [this.inSourceTransaction, seen] = [false, c.lsn];
    else if (c.kind !== 'message') {
      const image = c.kind === 'delete' ? c.old : c.new; // none for a truncate
      const row = image && Object.fromEntries(image.names.map((n, i) => [n, image.values[i]]));
      bytes += fs.writeSync(fd, `${JSON.stringify({ lsn: formatLsn(txEnd), op: c.kind, row })}\n`);
    }
  },
  async commit() {
    if (!this.hasUncommitted) return undefined;
    save(seen ?? this.storedLsn);
    return this.storedLsn;
  },
  async rollback() {
    [bytes, this.inSourceTransaction, this.hasUncommitted] = [committed, false, false];
    fs.truncateSync(out, committed);
  },
  async advanceIdle(lsn) {
    if (this.hasUncommitted || lsn <= this.storedLsn) return false;
    save(lsn);
    return true;
  },
};
function save(lsn) {
  fs.fsyncSync(fd); // the lines first, then the state that covers them
  fs.writeFileSync(`${statePath}.tmp`, JSON.stringify({ lsn: formatLsn(lsn), bytes }));
  fs.renameSync(`${statePath}.tmp`, statePath); // the LSN and the data's length move together
  [sink.storedLsn, sink.hasUncommitted, committed] = [lsn, false, bytes];
}

const stop = new AbortController(); // Ctrl-C: complete transactions commit, then a clean stop
process.once('SIGINT', () => stop.abort());
const stopAt = endpos ? { kind: 'endpos', lsn: parseLsn(endpos) } : { kind: 'never' };
const r = await replicate({ source, tables: [table], sink: async () => sink, stopAt, signal: stop.signal });
console.log(`${r.changes} changes in ${r.transactions} transactions, up to ${formatLsn(r.applied)}`);
