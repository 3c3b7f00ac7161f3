import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, throwawayServerArgs } from './redis-server.js';
import type { TestPki } from './tls-certs.js';

/** Whether redis-server asks TLS clients for a certificate (`--tls-auth-clients`). */
export type TlsAuthClients = 'no' | 'optional' | 'yes';

/**
 * A real `redis-server` speaking TLS on a free loopback port, with the certificates of a
 * {@link TestPki}; stopped by its PID. It also listens in plain text on `adminPort`, for the
 * test's own set-up and inspection (never for the cache under test).
 */
export class TlsRedisServer {
  readonly host = '127.0.0.1';
  #child: ChildProcess | undefined;
  readonly #dir = mkdtempSync(join(tmpdir(), 'tiered-cache-redis-tls-'));

  private constructor(
    readonly port: number,
    readonly adminPort: number,
    private readonly pki: TestPki,
    private readonly authClients: TlsAuthClients,
  ) {}

  static async start(pki: TestPki, authClients: TlsAuthClients = 'no'): Promise<TlsRedisServer> {
    const server = new TlsRedisServer(await freePort(), await freePort(), pki, authClients);
    await server.#start();
    return server;
  }

  /** `rediss://127.0.0.1:<port>`: TLS, verified against the CA given in the client's options. */
  get url(): string {
    return `rediss://${this.host}:${this.port}`;
  }

  /** A plain-text client on the admin port; `quit()` it after. */
  admin(): Redis {
    return new Redis({ host: this.host, port: this.adminPort, maxRetriesPerRequest: 1 });
  }

  async #start(): Promise<void> {
    const { server, ca } = this.pki;
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.adminPort),
        '--tls-port',
        String(this.port),
        ...throwawayServerArgs(this.host, this.#dir),
        '--tls-cert-file',
        server.certFile,
        '--tls-key-file',
        server.keyFile,
        '--tls-ca-cert-file',
        ca.certFile,
        '--tls-auth-clients',
        this.authClients,
      ],
      // redis-server logs every refused handshake; the specs provoke them on purpose.
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`Could not start redis-server (${err.message}). Install it: apt-get install -y redis-server`)));
      child.once('spawn', () => resolve());
    });
    const deadline = Date.now() + 5_000;
    for (;;) {
      const admin = new Redis({ host: this.host, port: this.adminPort, lazyConnect: true, retryStrategy: () => null });
      admin.on('error', () => undefined);
      try {
        await admin.connect();
        await admin.ping();
        admin.disconnect();
        return;
      } catch {
        admin.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server (TLS) on port ${this.port} did not start`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /** SIGKILLs the server (by PID), waits until it is gone, and removes its working directory. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child?.pid) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
