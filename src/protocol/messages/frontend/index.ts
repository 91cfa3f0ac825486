// Every message this client sends, as one union, encoded in one place (so tracing sees them all).

import { type CopyData, encodeCopyData } from '../copy-data.js';
import { type CopyDone, encodeCopyDone } from '../copy-done.js';
import { encodePasswordMessage, type PasswordMessage } from './password-message.js';
import { encodeQuery, type Query } from './query.js';
import { encodeSASLInitialResponse, type SASLInitialResponse } from './sasl-initial-response.js';
import { encodeSASLResponse, type SASLResponse } from './sasl-response.js';
import { encodeSSLRequest, type SSLRequest } from './ssl-request.js';
import { encodeStartupMessage, type StartupMessage } from './startup-message.js';
import { encodeTerminate, type Terminate } from './terminate.js';

export type FrontendMessage =
  | CopyData
  | CopyDone
  | PasswordMessage
  | Query
  | SASLInitialResponse
  | SASLResponse
  | SSLRequest
  | StartupMessage
  | Terminate;

export function encodeFrontendMessage(m: FrontendMessage): Buffer {
  switch (m.type) {
    case 'CopyData':
      return encodeCopyData(m);
    case 'CopyDone':
      return encodeCopyDone(m);
    case 'PasswordMessage':
      return encodePasswordMessage(m);
    case 'Query':
      return encodeQuery(m);
    case 'SASLInitialResponse':
      return encodeSASLInitialResponse(m);
    case 'SASLResponse':
      return encodeSASLResponse(m);
    case 'SSLRequest':
      return encodeSSLRequest(m);
    case 'StartupMessage':
      return encodeStartupMessage(m);
    case 'Terminate':
      return encodeTerminate(m);
    default:
      return m satisfies never;
  }
}
