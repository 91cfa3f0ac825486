// NotificationResponse ('A'): Byte1('A') Int32 len, Int32 sender PID, String channel, String payload.
// Only arrives after LISTEN; decoded so that a stray one is understood rather than called garbage.

import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

export const NOTIFICATION_RESPONSE = 0x41; // 'A'

export interface NotificationResponse {
  readonly type: 'NotificationResponse';
  readonly pid: number;
  readonly channel: string;
  readonly payload: string;
}

export function decodeNotificationResponse(body: Buffer): NotificationResponse {
  const r = new Reader(body, 'NotificationResponse');
  const m: NotificationResponse = {
    type: 'NotificationResponse',
    pid: r.i32(),
    channel: r.cstring(),
    payload: r.cstring(),
  };
  r.end();
  return m;
}

export function encodeNotificationResponse(m: NotificationResponse): Buffer {
  return new Writer(NOTIFICATION_RESPONSE).i32(m.pid).cstring(m.channel).cstring(m.payload).finish();
}
