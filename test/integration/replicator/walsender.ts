// A scripted walsender for the replication loop's in-process tests: trust startup, START_REPLICATION
// answered with CopyBothResponse, then whatever the test sends (wal2json format 2 lines, keepalives).
// Every StandbyStatusUpdate the client sends is recorded and checked at arrival by `check`.
import { type Connection, connect, parseConnectionString } from '../../../src/protocol/index.js';
import { formatLsn, type Lsn } from '../../../src/protocol/lsn.js';
import { encodeCopyData } from '../../../src/protocol/messages/copy-data.js';
import { encodePrimaryKeepalive } from '../../../src/protocol/replication/primary-keepalive.js';
import {
  decodeStandbyStatusUpdate,
  type StandbyStatusUpdate,
} from '../../../src/protocol/replication/standby-status-update.js';
import { encodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import { type FakeServer, fakeServer, type Peer, R, trustServer } from '../protocol/fake-server.js';

const COPY_DATA = 0x64;
const COPY_DONE = 0x63;

export class Walsender {
  readonly updates: StandbyStatusUpdate[] = [];
  private ready: Promise<Peer>;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly server: FakeServer,
    ready: Promise<Peer>,
  ) {
    this.ready = ready;
  }

  /** `check` sees each status update as it arrives (throwing there fails the server's script). */
  static async start(check: (u: StandbyStatusUpdate) => void = () => {}): Promise<Walsender> {
    let resolvePeer: (p: Peer) => void = () => {};
    const ready = new Promise<Peer>((r) => {
      resolvePeer = r;
    });
    let self: Walsender | undefined;
    const server = await fakeServer(
      trustServer(async (peer) => {
        await peer.read(); // START_REPLICATION
        peer.send(R({ type: 'CopyBothResponse', format: 0, columnFormats: [] }));
        resolvePeer(peer);
        for (;;) {
          const f = await peer.read().catch(() => undefined);
          if (!f) return;
          if (f.tag === COPY_DATA) {
            const u = decodeStandbyStatusUpdate(f.body);
            check(u);
            self?.updates.push(u);
            for (const w of self?.waiters.splice(0) ?? []) w();
          } else if (f.tag === COPY_DONE) {
            peer.send(
              R({ type: 'CopyDone' }),
              R({ type: 'CommandComplete', tag: 'START_REPLICATION' }),
              R({ type: 'ReadyForQuery', status: 'I' }),
            );
          }
        }
      }),
    );
    self = new Walsender(server, ready);
    return self;
  }

  async connect(): Promise<Connection> {
    return connect(
      parseConnectionString(`host=127.0.0.1 port=${this.server.port} user=u dbname=db sslmode=disable`, {}),
    );
  }

  /** One XLogData carrying a wal2json format-2 line. */
  async xlog(at: Lsn, json: object, walEnd: Lsn = at): Promise<void> {
    const peer = await this.ready;
    const data = Buffer.from(JSON.stringify(json));
    peer.send(
      encodeCopyData({
        type: 'CopyData',
        data: encodeXLogData({ type: 'XLogData', dataStart: at, walEnd, serverTime: 0n, data }),
      }),
    );
  }

  async keepalive(walEnd: Lsn, replyRequested = false): Promise<void> {
    const peer = await this.ready;
    peer.send(
      encodeCopyData({
        type: 'CopyData',
        data: encodePrimaryKeepalive({ type: 'PrimaryKeepalive', walEnd, serverTime: 0n, replyRequested }),
      }),
    );
  }

  /** Resolves once a status update reports `flush` at or past `lsn`. */
  async flushed(lsn: Lsn): Promise<StandbyStatusUpdate> {
    return this.updateWhere((x) => x.flush >= lsn);
  }

  /** The first status update that `test` accepts, awaited as updates arrive. */
  async updateWhere(test: (u: StandbyStatusUpdate) => boolean): Promise<StandbyStatusUpdate> {
    for (;;) {
      const u = this.updates.find(test);
      if (u) return u;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/** wal2json format-2 lines for one transaction of inserts into public.t (id int, v text). */
export function transaction(xid: number, start: Lsn, end: Lsn, ids: readonly number[]) {
  const lsn = formatLsn(start);
  const nextlsn = formatLsn(end);
  const timestamp = '2026-01-01 00:00:00+00';
  return {
    start,
    end,
    begin: { action: 'B', xid, timestamp, lsn, nextlsn },
    inserts: ids.map((id) => ({
      action: 'I',
      xid,
      timestamp,
      lsn,
      schema: 'public',
      table: 't',
      columns: [
        { name: 'id', type: 'integer', typeoid: 23, value: id },
        { name: 'v', type: 'text', typeoid: 25, value: `row ${id}` },
      ],
      pk: [{ name: 'id', type: 'integer', typeoid: 23 }],
    })),
    commit: { action: 'C', xid, timestamp, lsn, nextlsn },
  };
}
