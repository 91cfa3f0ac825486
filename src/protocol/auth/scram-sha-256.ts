// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677), client side, as a small state machine:
//
//   client-first  ->  "n,,n=,r=<client nonce>"           (gs2 header + client-first-bare)
//   server-first  <-  "r=<client nonce + server nonce>,s=<salt b64>,i=<iterations>"
//   client-final  ->  "c=<b64 gs2 header [+ channel binding]>,r=<nonce>,p=<proof b64>"
//   server-final  <-  "v=<server signature b64>"  (or "e=<error>")
//
// The proof shows we know the password without sending it; the server signature shows the server
// knows the verifier, i.e. that it is the real server. A client that accepts AuthenticationOk without a
// verified signature lets any impostor in the middle "authenticate" it: the connection refuses that.
// PostgreSQL ignores the SCRAM user name (it uses the startup packet's), so we send "n=" empty, as libpq.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../errors.js';
import { saslprep } from './saslprep.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';

/** PostgreSQL's default is 4096; far more makes a hostile server burn our CPU (PBKDF2 per login). */
export const DEFAULT_MAX_SCRAM_ITERATIONS = 1_000_000;

/**
 * none: no TLS, "n"; client-supports: TLS but we chose plain SCRAM, "y" (lets the server detect a
 * downgrade); tls-server-end-point: SCRAM-PLUS bound to the hash of the server's certificate.
 */
export type ChannelBinding =
  | { readonly kind: 'none' }
  | { readonly kind: 'client-supports' }
  | { readonly kind: 'tls-server-end-point'; readonly data: Buffer };

export interface ScramOptions {
  readonly password: string;
  readonly channelBinding: ChannelBinding;
  /** Only for tests with a fixed vector; PostgreSQL wants "". */
  readonly username?: string;
  /** Only for tests with a fixed vector: the client nonce (printable, no comma). */
  readonly clientNonce?: string;
  readonly maxIterations?: number;
}

type State = 'initial' | 'sent-first' | 'sent-final' | 'verified';

const PRINTABLE_NO_COMMA = /^[\x21-\x2B\x2D-\x7E]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function bad(message: string): AuthError {
  return new AuthError('WALDUCK_SCRAM_BAD_MESSAGE', `SCRAM: ${message}`);
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function base64(text: string, what: string): Buffer {
  if (!BASE64.test(text)) throw bad(`${what} is not valid base64`);
  return Buffer.from(text, 'base64');
}

/** Splits "a=1,b=2" into attributes, checking the expected ones come first and in order. */
function attributes(message: string, expected: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const parts = message.split(',');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) throw bad(`malformed attribute "${part.slice(0, 20)}" in "${message.slice(0, 60)}"`);
    const [, key, value] = m as unknown as [string, string, string];
    if (i < expected.length && key !== expected[i]) {
      throw bad(`expected attribute "${expected[i]}" at position ${i + 1}, got "${key}"`);
    }
    if (!out.has(key)) out.set(key, value);
  }
  if (parts.length < expected.length) throw bad(`missing attribute "${expected[parts.length]}"`);
  return out;
}

export class ScramClient {
  readonly mechanism: string;
  private state: State = 'initial';
  private readonly gs2Header: string;
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private readonly maxIterations: number;
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly options: ScramOptions) {
    const cb = options.channelBinding;
    this.mechanism = cb.kind === 'tls-server-end-point' ? SCRAM_SHA_256_PLUS : SCRAM_SHA_256;
    this.gs2Header =
      cb.kind === 'tls-server-end-point'
        ? 'p=tls-server-end-point,,'
        : cb.kind === 'client-supports'
          ? 'y,,'
          : 'n,,';
    // 18 random bytes -> 24 base64 characters, as libpq; base64 has no comma.
    this.clientNonce = options.clientNonce ?? randomBytes(18).toString('base64');
    if (!PRINTABLE_NO_COMMA.test(this.clientNonce))
      throw bad('client nonce must be printable without commas');
    const user = (options.username ?? '').replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${user},r=${this.clientNonce}`;
    this.maxIterations = options.maxIterations ?? DEFAULT_MAX_SCRAM_ITERATIONS;
  }

  get verified(): boolean {
    return this.state === 'verified';
  }

  clientFirstMessage(): string {
    if (this.state !== 'initial') throw bad('client-first-message already sent');
    this.state = 'sent-first';
    return this.gs2Header + this.clientFirstBare;
  }

  /** Takes server-first-message, returns client-final-message. */
  clientFinalMessage(serverFirst: string): string {
    if (this.state !== 'sent-first') throw bad(`unexpected server-first-message (state ${this.state})`);
    if (serverFirst.startsWith('m=')) throw bad('server requires an extension this client does not know');
    const a = attributes(serverFirst, ['r', 's', 'i']);
    const nonce = a.get('r') as string;
    if (!PRINTABLE_NO_COMMA.test(nonce)) throw bad('server nonce has invalid characters');
    // The server's nonce must extend ours: otherwise this answer belongs to another exchange (replay).
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new AuthError(
        'WALDUCK_SCRAM_BAD_NONCE',
        'SCRAM: the server nonce does not extend the client nonce: refusing (replayed or forged exchange)',
      );
    }
    const salt = base64(a.get('s') as string, 'salt');
    if (salt.length === 0) throw bad('empty salt');
    const iterText = a.get('i') as string;
    if (!/^[1-9][0-9]{0,9}$/.test(iterText))
      throw bad(`iteration count "${iterText.slice(0, 12)}" is not a positive integer`);
    const iterations = Number(iterText);
    if (iterations > this.maxIterations) {
      throw new AuthError(
        'WALDUCK_SCRAM_ITERATIONS',
        `SCRAM: the server asks for ${iterations} PBKDF2 iterations, more than the allowed ${this.maxIterations}: raise the cap if this server is trusted`,
      );
    }

    const cbindInput = Buffer.from(this.gs2Header, 'utf8');
    const cb = this.options.channelBinding;
    const channelBinding = (
      cb.kind === 'tls-server-end-point' ? Buffer.concat([cbindInput, cb.data]) : cbindInput
    ).toString('base64');
    const clientFinalWithoutProof = `c=${channelBinding},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;

    const saltedPassword = pbkdf2Sync(saslprep(this.options.password), salt, iterations, 32, 'sha256');
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const clientSignature = createHmac('sha256', storedKey).update(authMessage, 'utf8').digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++)
      proof[i] = (clientKey[i] as number) ^ (clientSignature[i] as number);
    const serverKey = hmac(saltedPassword, 'Server Key');
    this.expectedServerSignature = createHmac('sha256', serverKey).update(authMessage, 'utf8').digest();

    this.state = 'sent-final';
    return `${clientFinalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Takes server-final-message; throws unless it carries the signature only the real server can make. */
  verifyServerFinal(serverFinal: string): void {
    if (this.state !== 'sent-final' || !this.expectedServerSignature) {
      throw bad(`unexpected server-final-message (state ${this.state})`);
    }
    if (serverFinal.startsWith('e=')) {
      throw new AuthError(
        'WALDUCK_SCRAM_SERVER_ERROR',
        `SCRAM: the server reports "${serverFinal.slice(2, 100)}"`,
      );
    }
    const a = attributes(serverFinal, ['v']);
    const signature = base64(a.get('v') as string, 'server signature');
    const expected = this.expectedServerSignature;
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new AuthError(
        'WALDUCK_SCRAM_BAD_SERVER_SIGNATURE',
        'SCRAM: the server signature is wrong: this server does not know the password verifier (an impostor or a proxy in the middle). Not connecting.',
      );
    }
    this.state = 'verified';
  }
}
