import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A real `redis-server` on a free loopback port, started for one suite and stopped by its PID.
 * Faults are real: `signal('SIGSTOP')`, `kill()` then `start()` again on the same port.
 */
/**
 * What every redis-server the tests start shares: bound to `host`, no persistence (its files, if
 * any, in `dir`), in the foreground, quiet. The caller adds its ports and its own settings.
 */
export function throwawayServerArgs(host: string, dir: string): string[] {
  return ['--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
}

export class RedisServer {
  readonly host = '127.0.0.1';
  #child: ChildProcess | undefined;
  #dir = mkdtempSync(join(tmpdir(), 'tiered-cache-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    return RedisServer.startOn(await freePort());
  }

  /** Starts a server on a given port (e.g. one a client already tries to reach). */
  static async startOn(port: number): Promise<RedisServer> {
    const server = new RedisServer(port);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts (or restarts) the server on the same port and waits until it answers PING. */
  // biome-ignore lint/suspicious/useAdjacentOverloadSignatures: the instance start() restarts; the static one creates
  async start(): Promise<void> {
    if (this.#child) return;
    const child = spawn('redis-server', ['--port', String(this.port), ...throwawayServerArgs(this.host, this.#dir)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`Could not start redis-server (${err.message}). Install it: apt-get install -y redis-server`)));
      child.once('spawn', () => resolve());
    });
    await this.#waitForPing(5_000);
  }

  /** Sends a real signal to the server process (SIGSTOP, SIGCONT, SIGKILL, ...). */
  signal(signal: NodeJS.Signals): void {
    if (!this.#child?.pid) throw new Error('redis-server is not running');
    process.kill(this.#child.pid, signal);
  }

  /** SIGKILLs the server and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child?.pid) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(child.pid, 'SIGCONT');
    } catch {
      // already gone
    }
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** Stops the server (by PID) and removes its working directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Sends one command and returns the raw reply for simple (one-line) replies, e.g. PING, SET. */
  async command(...args: string[]): Promise<string> {
    return rawCommand(this.port, args);
  }

  async #waitForPing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await rawCommand(this.port, ['PING'])).startsWith('+PONG')) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function rawCommand(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('timeout')));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.once('close', () => resolve(reply));
    socket.connect(port, '127.0.0.1', () => {
      const parts = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
      socket.write(`*${args.length}\r\n${parts}`);
    });
  });
}

/** How many times Redis has run `command` (from INFO commandstats; 0 if never). */
export async function commandCalls(client: Redis, command: string): Promise<number> {
  const info = await client.info('commandstats');
  const m = new RegExp(`cmdstat_${command.toLowerCase()}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

/** A plain ioredis client to inspect or damage what the cache stored; `quit()` it after. */
export function rawClient(redis: RedisServer): Redis {
  return new Redis({ host: redis.host, port: redis.port, lazyConnect: false, maxRetriesPerRequest: 1 });
}
