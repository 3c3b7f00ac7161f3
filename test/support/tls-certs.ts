import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of a test PKI: their paths (for redis-server) and contents (for ioredis `tls`). */
export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * A throw-away PKI made with `openssl` in a temp dir: a CA, a server certificate for
 * 127.0.0.1 / localhost, a client certificate, and a second, unrelated CA (whose
 * certificates nobody trusts). `remove()` deletes the files.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'tiered-cache-tls-'));
  readonly ca: CertPair;
  readonly server: CertPair;
  readonly client: CertPair;
  /** Another CA: a client that trusts it cannot verify the server. */
  readonly otherCa: CertPair;
  /** A client certificate signed by `otherCa`: the server refuses it. */
  readonly strangerClient: CertPair;

  constructor() {
    this.ca = this.#ca('ca', 'tiered-cache test CA');
    this.otherCa = this.#ca('other-ca', 'some other CA');
    this.server = this.#leaf('server', this.ca, 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
    this.client = this.#leaf('client', this.ca, 'cache-client', 'extendedKeyUsage=clientAuth');
    this.strangerClient = this.#leaf('stranger', this.otherCa, 'stranger', 'extendedKeyUsage=clientAuth');
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #ca(name: string, cn: string): CertPair {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${cn}`);
    return pair(certFile, keyFile);
  }

  #leaf(name: string, ca: CertPair, cn: string, extensions: string): CertPair {
    const keyFile = join(this.dir, `${name}.key`);
    const csrFile = join(this.dir, `${name}.csr`);
    const certFile = join(this.dir, `${name}.crt`);
    const extFile = join(this.dir, `${name}.ext`);
    writeFileSync(extFile, `${extensions}\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extFile);
    return pair(certFile, keyFile);
  }
}

function pair(certFile: string, keyFile: string): CertPair {
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

function openssl(...args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl ${args[0]} failed (${(err as { stderr?: Buffer }).stderr?.toString().trim()}); install it: apt-get install -y openssl`);
  }
}
