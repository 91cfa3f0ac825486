// A connection: open the socket (TLS per sslmode), run startup and authentication, then serve simple
// queries, replication commands, and one replication stream at a time.

import type { Socket } from 'node:net';
import type { ConnectionSettings } from './config.js';
import { isUnixSocketHost } from './config.js';
import { type CopyOutOptions, runCopyOut } from './copy-out.js';
import { ArgumentError, ConnectionError, inPhase, ProtocolError, WalduckProtocolError } from './errors.js';
import { COMMAND_COMPLETE, decodeCommandComplete } from './messages/backend/command-complete.js';
import { COPY_BOTH_RESPONSE } from './messages/backend/copy-both-response.js';
import { DATA_ROW, decodeDataRow } from './messages/backend/data-row.js';
import { EMPTY_QUERY_RESPONSE } from './messages/backend/empty-query-response.js';
import { decodeErrorResponse, ERROR_RESPONSE } from './messages/backend/error-response.js';
import type { NoticeFields } from './messages/backend/notice-fields.js';
import { READY_FOR_QUERY } from './messages/backend/ready-for-query.js';
import { decodeRowDescription, ROW_DESCRIPTION } from './messages/backend/row-description.js';
import {
  type CreateReplicationSlotOptions,
  type CreateReplicationSlotResult,
  createReplicationSlotCommand,
  dropReplicationSlotCommand,
  IDENTIFY_SYSTEM,
  type IdentifySystemResult,
  parseCreateReplicationSlot,
  parseIdentifySystem,
  parseReadReplicationSlot,
  type QueryResult,
  type ReadReplicationSlotResult,
  readReplicationSlotCommand,
  startReplicationCommand,
} from './replication/commands.js';
import { checkStartOptions, ReplicationStream, type StartReplicationOptions } from './replication/stream.js';
import { commandOf, type ErrorContext, PgServerError } from './server-error.js';
import { startup } from './startup.js';
import type { TraceFn } from './trace.js';
import { openSocket, startTls, type Transport } from './transport.js';
import { type LogFn, Wire } from './wire.js';

export interface ConnectOptions {
  /** 'database' (default): a walsender that takes replication commands and SQL. false: a plain session. */
  readonly replication?: 'database' | false;
  readonly log?: LogFn;
  readonly trace?: TraceFn;
  /** NoticeResponse / WARNINGs (wal2json reports skipped changes this way). Default: to `log`. */
  readonly onNotice?: (n: NoticeFields) => void;
  /** Whole connect (socket, TLS, auth, startup); overrides the settings' connect_timeout. */
  readonly connectTimeoutMs?: number;
  /** Abandons the attempt (its caller no longer needs it): the socket is destroyed and connect rejects. */
  readonly signal?: AbortSignal;
  /** Bounds on what one query() may hold in memory (defaults: QUERY_MAX_ROWS, QUERY_MAX_BYTES). */
  readonly maxQueryRows?: number;
  readonly maxQueryBytes?: number;
  /** Pin DateStyle, TimeZone, … at startup (startup.ts SESSION_SETTINGS); default true. */
  readonly pinSettings?: boolean;
}

/**
 * query() collects its whole result, so a server that streams rows without end would exhaust memory.
 * The queries this client runs (catalog, slots, identification) return far less; larger results
 * belong in copyOut(), which streams.
 */
export const QUERY_MAX_ROWS = 1_000_000;
export const QUERY_MAX_BYTES = 256 * 1024 * 1024;

export interface Connection {
  readonly serverParameters: ReadonlyMap<string, string>;
  readonly backendPid: number;
  /**
   * False once the connection can run nothing more: its link failed (even while idle, say a server
   * restart closing the socket between two commands), a reply broke it, or it was closed.
   */
  readonly usable: boolean;
  query(sql: string): Promise<QueryResult[]>;
  /**
   * Runs `COPY … TO STDOUT` (copy-out) and yields the CopyData payloads as they arrive, in batches
   * (every payload queued at each step). Stopping the iteration early leaves the connection unusable.
   */
  copyOut(sql: string, o?: CopyOutOptions): AsyncIterable<readonly Buffer[]>;
  identifySystem(): Promise<IdentifySystemResult>;
  createReplicationSlot(name: string, o: CreateReplicationSlotOptions): Promise<CreateReplicationSlotResult>;
  dropReplicationSlot(name: string, o?: { wait?: boolean }): Promise<void>;
  readReplicationSlot(name: string): Promise<ReadReplicationSlotResult>;
  startReplication(o: StartReplicationOptions): Promise<ReplicationStream>;
  close(): Promise<void>;
}

type ConnState = 'idle' | 'busy' | 'streaming' | 'broken' | 'closed';

class PgConnection implements Connection {
  private state: ConnState = 'idle';
  private streamed = false;
  constructor(
    private readonly wire: Wire,
    private readonly settings: ConnectionSettings,
    readonly backendPid: number,
    readonly secretKey: number,
    private readonly limits: { readonly rows: number; readonly bytes: number },
  ) {}

  get serverParameters(): ReadonlyMap<string, string> {
    return this.wire.parameters;
  }

  get usable(): boolean {
    return this.state !== 'broken' && this.state !== 'closed' && !this.wire.failed;
  }

  private enter(what: string): void {
    if (this.state === 'idle' && !this.wire.failed) {
      this.state = 'busy';
      this.wire.phase = 'command';
      return;
    }
    const why =
      this.state === 'busy'
        ? 'another command is still running (await it first)'
        : this.state === 'streaming'
          ? 'a replication stream is active (stop() it first)'
          : this.state === 'closed'
            ? 'the connection is closed'
            : 'the connection failed earlier';
    throw new ConnectionError(
      this.state === 'busy' || this.state === 'streaming' ? 'WALDUCK_BUSY' : 'WALDUCK_CONNECTION_CLOSED',
      'command',
      `cannot run ${what}: ${why}`,
      this.wire.failed ? { cause: this.wire.failed } : undefined,
    );
  }

  private leave(ok: boolean): void {
    if (this.state === 'busy') this.state = ok ? 'idle' : 'broken';
  }

  /** What advice for a server error may go by: who asked, which server, and what was asked. */
  private errorContext(sql: string): ErrorContext {
    return {
      user: this.settings.user,
      serverVersion: this.wire.parameters.get('server_version'),
      command: commandOf(sql),
    };
  }

  async query(sql: string): Promise<QueryResult[]> {
    this.enter('a query');
    let ok = false;
    try {
      const results = await this.runQuery(sql);
      ok = true;
      return results;
    } catch (err) {
      // A server error leaves the connection idle and usable, and an argument refused before sending
      // changes nothing; anything else (a broken or unexpected reply) leaves it unusable.
      ok = err instanceof PgServerError || err instanceof ArgumentError;
      throw inPhase(err, 'command');
    } finally {
      this.leave(ok);
    }
  }

  async *copyOut(sql: string, o: CopyOutOptions = {}): AsyncGenerator<readonly Buffer[], void, undefined> {
    this.enter('COPY TO STDOUT');
    let ok = false;
    try {
      yield* runCopyOut(this.wire, sql, o, () => this.errorContext(sql));
      ok = true;
    } catch (err) {
      ok = err instanceof PgServerError;
      throw inPhase(err, 'command');
    } finally {
      this.leave(ok);
    }
  }

  private async runQuery(sql: string): Promise<QueryResult[]> {
    const wire = this.wire;
    wire.send({ type: 'Query', sql });
    const results: QueryResult[] = [];
    let fields: QueryResult['fields'] = [];
    let rows: (string | null)[][] = [];
    let error: PgServerError | undefined;
    let rowCount = 0;
    let bytes = 0;
    for (;;) {
      await wire.next();
      switch (wire.tag) {
        case ROW_DESCRIPTION:
          fields = decodeRowDescription(wire.body).fields.map((f) => ({ name: f.name, typeOid: f.typeOid }));
          rows = [];
          break;
        case DATA_ROW:
          rowCount++;
          bytes += wire.body.length;
          if (rowCount > this.limits.rows || bytes > this.limits.bytes) {
            const err = new ProtocolError(
              'WALDUCK_LIMIT_EXCEEDED',
              'command',
              `a query result exceeded ${rowCount > this.limits.rows ? `${this.limits.rows} rows` : `${this.limits.bytes} bytes`}, more than this client holds in memory for one query: the connection is closed`,
            );
            // The rest of the result is still coming: stop reading it rather than queue it.
            wire.fail(err);
            wire.socket.destroy();
            throw err;
          }
          rows.push(decodeDataRow(wire.body).values.map((v) => (v === null ? null : v.toString('utf8'))));
          break;
        case COMMAND_COMPLETE:
          results.push({ command: decodeCommandComplete(wire.body).tag, fields, rows });
          fields = [];
          rows = [];
          break;
        case EMPTY_QUERY_RESPONSE:
          break;
        case ERROR_RESPONSE:
          error ??= new PgServerError(
            'command',
            decodeErrorResponse(wire.body).fields,
            this.errorContext(sql),
          );
          break;
        case READY_FOR_QUERY:
          if (error) throw error;
          return results;
        case COPY_BOTH_RESPONSE:
          throw new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'command',
            'query() started a copy stream: use startReplication() for START_REPLICATION',
          );
        default:
          throw new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'command',
            `unexpected message '${String.fromCharCode(wire.tag)}' in a query result`,
          );
      }
    }
  }

  async identifySystem(): Promise<IdentifySystemResult> {
    return parseIdentifySystem(await this.query(IDENTIFY_SYSTEM));
  }

  async createReplicationSlot(
    name: string,
    o: CreateReplicationSlotOptions,
  ): Promise<CreateReplicationSlotResult> {
    return parseCreateReplicationSlot(await this.query(createReplicationSlotCommand(name, o)));
  }

  async dropReplicationSlot(name: string, o: { wait?: boolean } = {}): Promise<void> {
    await this.query(dropReplicationSlotCommand(name, o.wait ?? false));
  }

  async readReplicationSlot(name: string): Promise<ReadReplicationSlotResult> {
    return parseReadReplicationSlot(await this.query(readReplicationSlotCommand(name)));
  }

  async startReplication(o: StartReplicationOptions): Promise<ReplicationStream> {
    checkStartOptions(o);
    const sql = startReplicationCommand(o.slot, o.startLsn, o.options);
    if (this.streamed) {
      // PostgreSQL's walsender does not reset its end-of-copy state for a second logical
      // START_REPLICATION: it answers CopyBothResponse and ends at once. pg_recvlogical reconnects too.
      throw new ConnectionError(
        'WALDUCK_RESTREAM_UNSUPPORTED',
        'command',
        'this connection has streamed already; PostgreSQL streams once per replication connection: connect again',
      );
    }
    this.enter('START_REPLICATION');
    const wire = this.wire;
    try {
      wire.send({ type: 'Query', sql });
      let error: PgServerError | undefined;
      for (;;) {
        await wire.next();
        if (wire.tag === COPY_BOTH_RESPONSE && !error) break;
        if (wire.tag === ERROR_RESPONSE) {
          error ??= new PgServerError(
            'command',
            decodeErrorResponse(wire.body).fields,
            this.errorContext(sql),
          );
        } else if (wire.tag === READY_FOR_QUERY && error) {
          this.leave(true);
          throw error;
        } else {
          throw new ProtocolError(
            'WALDUCK_UNEXPECTED_MESSAGE',
            'command',
            `unexpected message '${String.fromCharCode(wire.tag)}' in answer to START_REPLICATION`,
          );
        }
      }
    } catch (err) {
      this.leave(false);
      throw inPhase(err, 'command');
    }
    this.state = 'streaming';
    this.streamed = true;
    return new ReplicationStream(wire, o, (usable) => {
      if (this.state === 'streaming') this.state = usable ? 'idle' : 'broken';
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.wire.close();
  }
}

async function attempt(
  settings: ConnectionSettings,
  opts: ConnectOptions,
  tls: 'off' | 'try' | 'must',
  onSocket: (s: Socket) => void,
): Promise<PgConnection> {
  const socket = await openSocket(settings, opts.log);
  onSocket(socket);
  if (!isUnixSocketHost(settings.host)) socket.setKeepAlive(true, 30_000);
  let transport: Transport = { socket, peerCertificate: undefined };
  if (tls !== 'off') {
    transport = await startTls(socket, settings, tls === 'must', opts.log, opts.trace);
    onSocket(transport.socket);
  }
  const wire = new Wire(transport.socket, { log: opts.log, trace: opts.trace, onNotice: opts.onNotice });
  try {
    const key = await startup(wire, settings, {
      replication: opts.replication ?? 'database',
      peerCertificate: transport.peerCertificate,
      ...(opts.pinSettings === false ? { pinSettings: false } : {}),
    });
    wire.phase = 'command';
    opts.log?.(`connected: server ${wire.parameters.get('server_version') ?? '?'}, backend PID ${key.pid}`);
    return new PgConnection(wire, settings, key.pid, key.secretKey, {
      rows: opts.maxQueryRows ?? QUERY_MAX_ROWS,
      bytes: opts.maxQueryBytes ?? QUERY_MAX_BYTES,
    });
  } catch (err) {
    wire.fail(err as Error);
    transport.socket.destroy();
    throw err;
  }
}

/** Opens a connection, following sslmode's fallbacks (allow: plain then TLS; prefer: TLS then plain). */
export async function connect(settings: ConnectionSettings, opts: ConnectOptions = {}): Promise<Connection> {
  const timeoutMs = opts.connectTimeoutMs ?? settings.connectTimeoutMs;
  let current: Socket | undefined;
  const track = (s: Socket): void => {
    current = s;
  };
  const run = async (): Promise<PgConnection> => {
    if (isUnixSocketHost(settings.host)) return attempt(settings, opts, 'off', track);
    switch (settings.sslmode) {
      case 'disable':
        return attempt(settings, opts, 'off', track);
      case 'allow':
        try {
          return await attempt(settings, opts, 'off', track);
        } catch (err) {
          // libpq: if the server refuses the plaintext session (e.g. pg_hba hostssl), try again with TLS.
          if (!(err instanceof PgServerError)) throw err;
          opts.log?.('server refused the plaintext connection; retrying with TLS (sslmode=allow)');
          return attempt(settings, opts, 'must', track);
        }
      case 'prefer':
        try {
          return await attempt(settings, opts, 'try', track);
        } catch (err) {
          if (!(err instanceof ConnectionError && err.phase === 'tls' && err.code === 'WALDUCK_TLS_FAILED'))
            throw err;
          opts.log?.('TLS handshake failed; retrying without TLS (sslmode=prefer)');
          return attempt(settings, opts, 'off', track);
        }
      case 'require':
      case 'verify-ca':
      case 'verify-full':
        return attempt(settings, opts, 'must', track);
      default:
        return settings.sslmode satisfies never;
    }
  };
  const { signal } = opts;
  if (signal?.aborted)
    throw new ConnectionError('WALDUCK_CONNECT_ABANDONED', 'connect', 'connection attempt abandoned');
  if (!timeoutMs && !signal) return run();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    const stop = (err: ConnectionError) => {
      current?.destroy();
      reject(err);
    };
    if (timeoutMs)
      timer = setTimeout(
        () =>
          stop(
            new ConnectionError(
              'WALDUCK_CONNECT_TIMEOUT',
              'connect',
              `could not connect and authenticate within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    onAbort = () =>
      stop(new ConnectionError('WALDUCK_CONNECT_ABANDONED', 'connect', 'connection attempt abandoned'));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  const pending = run();
  try {
    return await Promise.race([pending, giveUp]);
  } catch (err) {
    // If the attempt completes after the timeout fired, do not leak its connection.
    pending.then(
      (c) => c.close(),
      () => {},
    );
    throw err instanceof WalduckProtocolError
      ? err
      : new ConnectionError('WALDUCK_CONNECT_FAILED', 'connect', String(err), { cause: err });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
