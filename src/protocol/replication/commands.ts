// Replication commands as typed requests and results. Each builds its command text (names and values
// quoted only through quote.ts) and reads the single-row result the server returns.
// https://www.postgresql.org/docs/current/protocol-replication.html

import { ProtocolError } from '../errors.js';
import { formatLsn, type Lsn, parseLsn } from '../lsn.js';
import { quoteIdentifier, quoteLiteral } from './quote.js';

export interface QueryResult {
  readonly command: string;
  readonly fields: readonly { readonly name: string; readonly typeOid: number }[];
  readonly rows: readonly (readonly (string | null)[])[];
}

export interface IdentifySystemResult {
  readonly systemId: string;
  readonly timeline: number;
  readonly xlogPos: Lsn;
  readonly dbName: string | null;
}

export interface CreateReplicationSlotOptions {
  readonly plugin: string;
  readonly temporary?: boolean;
  /** export: snapshot name returned, valid until the next command; use: the current transaction uses it. */
  readonly snapshot?: 'export' | 'noexport' | 'use';
}

export interface CreateReplicationSlotResult {
  readonly slotName: string;
  readonly consistentPoint: Lsn;
  readonly snapshotName: string | null;
  readonly outputPlugin: string;
}

export interface ReadReplicationSlotResult {
  readonly slotType: string | null;
  readonly restartLsn: Lsn | null;
  readonly restartTli: number | null;
}

export const IDENTIFY_SYSTEM = 'IDENTIFY_SYSTEM';

export function createReplicationSlotCommand(name: string, o: CreateReplicationSlotOptions): string {
  const parts = ['CREATE_REPLICATION_SLOT', quoteIdentifier(name, 'slot name')];
  if (o.temporary) parts.push('TEMPORARY');
  parts.push('LOGICAL', quoteIdentifier(o.plugin, 'output plugin'));
  if (o.snapshot === 'export') parts.push('EXPORT_SNAPSHOT');
  else if (o.snapshot === 'noexport') parts.push('NOEXPORT_SNAPSHOT');
  else if (o.snapshot === 'use') parts.push('USE_SNAPSHOT');
  return parts.join(' ');
}

export function dropReplicationSlotCommand(name: string, wait: boolean): string {
  return `DROP_REPLICATION_SLOT ${quoteIdentifier(name, 'slot name')}${wait ? ' WAIT' : ''}`;
}

export function readReplicationSlotCommand(name: string): string {
  return `READ_REPLICATION_SLOT ${quoteIdentifier(name, 'slot name')}`;
}

/**
 * An output plugin option: name and value, or name and null for an option given without a value (the
 * grammar allows it; pg_recvlogical sends `-o NAME` so, and the plugin receives a NULL value, which
 * wal2json reads as true for its boolean options).
 */
export type PluginOption = readonly [name: string, value: string | null];

/** START_REPLICATION SLOT "s" LOGICAL X/Y ("opt" 'value', "flag", ...). */
export function startReplicationCommand(
  slot: string,
  startLsn: Lsn,
  options: ReadonlyArray<PluginOption> = [],
): string {
  let sql = `START_REPLICATION SLOT ${quoteIdentifier(slot, 'slot name')} LOGICAL ${formatLsn(startLsn)}`;
  if (options.length > 0) {
    const one = ([k, v]: PluginOption) =>
      v === null
        ? quoteIdentifier(k, 'option name')
        : `${quoteIdentifier(k, 'option name')} ${quoteLiteral(v, `value of ${k}`)}`;
    sql += ` (${options.map(one).join(', ')})`;
  }
  return sql;
}

function row(results: readonly QueryResult[], command: string, columns: number): readonly (string | null)[] {
  const r = results[0]?.rows[0];
  if (results.length !== 1 || results[0]?.rows.length !== 1 || !r || r.length < columns) {
    throw new ProtocolError(
      'WALDUCK_BAD_RESULT',
      'command',
      `${command}: expected one row of ${columns} columns`,
    );
  }
  return r;
}

function lsnOf(command: string, text: string | null | undefined): Lsn {
  const lsn = text == null ? undefined : parseLsn(text);
  if (lsn === undefined)
    throw new ProtocolError('WALDUCK_BAD_RESULT', 'command', `${command}: "${text}" is not an LSN`);
  return lsn;
}

export function parseIdentifySystem(results: readonly QueryResult[]): IdentifySystemResult {
  const [systemId, timeline, xlogPos, dbName] = row(results, IDENTIFY_SYSTEM, 4);
  if (systemId == null || timeline == null || !/^\d+$/.test(timeline)) {
    throw new ProtocolError(
      'WALDUCK_BAD_RESULT',
      'command',
      'IDENTIFY_SYSTEM: missing system id or timeline',
    );
  }
  return {
    systemId,
    timeline: Number(timeline),
    xlogPos: lsnOf(IDENTIFY_SYSTEM, xlogPos),
    dbName: dbName ?? null,
  };
}

export function parseCreateReplicationSlot(results: readonly QueryResult[]): CreateReplicationSlotResult {
  const [slotName, consistentPoint, snapshotName, outputPlugin] = row(results, 'CREATE_REPLICATION_SLOT', 4);
  if (slotName == null || outputPlugin == null) {
    throw new ProtocolError(
      'WALDUCK_BAD_RESULT',
      'command',
      'CREATE_REPLICATION_SLOT: missing slot name or plugin',
    );
  }
  return {
    slotName,
    consistentPoint: lsnOf('CREATE_REPLICATION_SLOT', consistentPoint),
    snapshotName: snapshotName ?? null,
    outputPlugin,
  };
}

export function parseReadReplicationSlot(results: readonly QueryResult[]): ReadReplicationSlotResult {
  const [slotType, restartLsn, restartTli] = row(results, 'READ_REPLICATION_SLOT', 3);
  return {
    slotType: slotType ?? null,
    restartLsn: restartLsn == null ? null : lsnOf('READ_REPLICATION_SLOT', restartLsn),
    restartTli: restartTli == null ? null : Number(restartTli),
  };
}
