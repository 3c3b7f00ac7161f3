/**
 * Why the shared tier is not fully usable:
 * - `auth`: Redis refused the credentials (wrong or missing password, disabled user);
 * - `tls`: the TLS handshake failed (untrusted CA, host name not in the certificate, client
 *   certificate missing or refused, TLS on one side only);
 * - `permission`: the ACL user lacks a command, key or channel the library needs;
 * - `unreachable`: no answer (connection refused or reset, time-out, unknown host).
 */
export type L2Problem = 'auth' | 'permission' | 'tls' | 'unreachable';

/** What a connection error means, in a message that names the fix and holds no secret. */
export interface Diagnosis {
  problem: L2Problem;
  message: string;
}

/** Node's certificate verification failures: the client does not trust the server's certificate. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** TLS alerts the server sends when it refuses the client's certificate (or its absence). */
const CLIENT_CERT_REFUSED = /ALERT_(CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|ACCESS_DENIED|HANDSHAKE_FAILURE)$/;
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

const SERVING = 'Serving from L1 and loaders until it connects.';

/**
 * Names a Redis connection error. `tls` is whether the client connects with TLS; `fresh` whether
 * it has never been ready (a reset during the first handshakes is a refusal, later a drop).
 * `secrets` are removed from any text of the error that is repeated.
 */
export function diagnose(err: Error & { code?: unknown }, tls: boolean, fresh: boolean, secrets: readonly string[] = []): Diagnosis {
  const text = err.message ?? '';
  const code = typeof err.code === 'string' ? err.code : '';
  if (text.startsWith('WRONGPASS')) {
    return {
      problem: 'auth',
      message: `Redis refused the credentials (WRONGPASS): the username or password is wrong, or the ACL user is disabled. Fix the password (and username) in the redis option, or enable the user (ACL SETUSER <user> on). ${SERVING}`,
    };
  }
  if (text.startsWith('NOAUTH')) {
    return {
      problem: 'auth',
      message: `Redis requires authentication (NOAUTH) and none was given: set password (and username for an ACL user) in the redis option or URL. ${SERVING}`,
    };
  }
  if (text.startsWith('NOPERM')) {
    return {
      problem: 'permission',
      message: `Redis refused a command of the connection set-up (${redact(text, secrets)}): grant the cache user the ACL in the README's Security section. ${SERVING}`,
    };
  }
  if (UNTRUSTED.has(code)) {
    return {
      problem: 'tls',
      message: `TLS: the Redis server's certificate is not trusted (${code}). Give the CA that signed it in the redis option's tls.ca (or NODE_EXTRA_CA_CERTS). ${SERVING}`,
    };
  }
  if (EXPIRED.has(code)) {
    return { problem: 'tls', message: `TLS: the Redis server's certificate is outside its validity period (${code}): renew it. ${SERVING}` };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      problem: 'tls',
      message: `TLS: the Redis server's certificate does not name the host connected to (${code}). Connect by a host name the certificate lists, or set tls.servername to one. ${SERVING}`,
    };
  }
  if (CLIENT_CERT_REFUSED.test(code)) {
    return {
      problem: 'tls',
      message: `TLS: the Redis server refused the client certificate (${code}). Give tls.cert and tls.key signed by a CA the server trusts (its tls-ca-cert-file). ${SERVING}`,
    };
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return {
      problem: 'tls',
      message: `TLS: the Redis server does not speak TLS on this port (${code}): use redis:// without tls, or its TLS port. ${SERVING}`,
    };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return { problem: 'tls', message: `TLS: the handshake with Redis failed (${code}). Check the redis option's tls settings. ${SERVING}` };
  }
  // A server that is down refuses the connection; one that resets it before its first answer
  // refused the handshake: TLS on one side only, or a client certificate it does not accept.
  if (code === 'ECONNRESET' && fresh) {
    return {
      problem: 'tls',
      message: tls
        ? `TLS: the Redis server closed the connection during the handshake (ECONNRESET): it likely requires a client certificate (tls.cert, tls.key) or refuses the one given. ${SERVING}`
        : `TLS: the Redis server closed the connection before answering (ECONNRESET): it likely requires TLS; use rediss:// or the tls option. ${SERVING}`,
    };
  }
  if (code === 'ETIMEDOUT' && tls && fresh) {
    return {
      problem: 'unreachable',
      message: `Redis is not reachable (ETIMEDOUT): no TLS handshake answered; check host and port, and that the port speaks TLS. ${SERVING}`,
    };
  }
  if (UNREACHABLE.has(code) || code === 'ECONNRESET') return { problem: 'unreachable', message: `Redis is not reachable (${code}): ${SERVING.toLowerCase()}` };
  return { problem: 'unreachable', message: `Redis is not reachable (${redact(text, secrets) || 'no reason given'}): ${SERVING.toLowerCase()}` };
}

/**
 * Whether a command failed because the ACL user may not run it (or touch its keys or channel),
 * directly or inside a script. Such a reply is an answer: Redis is up.
 */
export function isPermissionRefusal(err: unknown): boolean {
  const text = err instanceof Error ? err.message : '';
  return text.startsWith('NOPERM') || text.startsWith("ERR The user executing the script can't") || text.includes('has no permissions to');
}

/**
 * The text without `secrets`, a URL's userinfo (`//user:password@`) or a PEM block: for any
 * error text repeated in a log line, a health payload or an exception.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/(\/\/)[^/@\s]*@/g, '$1***@').replace(/-----BEGIN [^-]+-----[\s\S]*?(-----END [^-]+-----|$)/g, '[PEM]');
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}
