// tls-server-end-point channel binding (RFC 5929 section 4.1): the hash of the server's certificate
// (DER) with the hash function of the certificate's signature algorithm, where MD5 and SHA-1 become
// SHA-256. Binding SCRAM to it means a TLS-terminating middleman with another certificate cannot
// relay our authentication. Node exposes the DER but not the signature algorithm, so we read the
// algorithm's OID from the certificate ourselves (Certificate ::= SEQUENCE { tbs, sigAlg, sig }).

import { createHash } from 'node:crypto';
import { AuthError } from '../errors.js';

const HASH_BY_OID: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption -> SHA-256 per RFC 5929
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption -> SHA-256
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1 -> SHA-256
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1 -> SHA-256
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

/** The certificate's DER could not be read this far; tlsServerEndPoint says so as an AuthError. */
class CertificateError extends AuthError {
  constructor(what: string) {
    super('WALDUCK_CHANNEL_BINDING_UNAVAILABLE', what);
  }
}

/** Reads one DER TLV header at `pos`: returns [tag, content start, content end]. */
function tlv(der: Uint8Array, pos: number): [number, number, number] {
  const tag = der[pos];
  let len = der[pos + 1];
  if (tag === undefined || len === undefined) throw new CertificateError('truncated');
  let at = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new CertificateError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[at++] ?? Number.NaN);
  }
  if (!Number.isFinite(len) || at + len > der.length) throw new CertificateError('truncated');
  return [tag, at, at + len];
}

function oidText(bytes: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const [i, b] of bytes.entries()) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0 && i >= 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

export function signatureAlgorithmOid(certDer: Uint8Array): string {
  const [t0, c0] = tlv(certDer, 0); // Certificate SEQUENCE
  if (t0 !== 0x30) throw new CertificateError('not a SEQUENCE');
  const [, , tbsEnd] = tlv(certDer, c0); // tbsCertificate
  const [t1, c1] = tlv(certDer, tbsEnd); // signatureAlgorithm SEQUENCE
  if (t1 !== 0x30) throw new CertificateError('no AlgorithmIdentifier');
  const [t2, c2, e2] = tlv(certDer, c1);
  if (t2 !== 0x06) throw new CertificateError('no OID');
  return oidText(certDer.subarray(c2, e2));
}

export function tlsServerEndPoint(certDer: Uint8Array): Buffer {
  let oid: string;
  try {
    oid = signatureAlgorithmOid(certDer);
  } catch (err) {
    throw new AuthError(
      'WALDUCK_CHANNEL_BINDING_UNAVAILABLE',
      `channel binding: cannot read the server certificate (${(err as Error).message})`,
    );
  }
  const hash = HASH_BY_OID[oid];
  if (!hash) {
    throw new AuthError(
      'WALDUCK_CHANNEL_BINDING_UNAVAILABLE',
      `channel binding: the server certificate's signature algorithm (OID ${oid}) has no tls-server-end-point hash`,
    );
  }
  return createHash(hash).update(certDer).digest();
}
