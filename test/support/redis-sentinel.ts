import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { nodeCall, nodeCommand } from './redis-cluster.js';
import { freePort, throwawayServerArgs } from './redis-server.js';

/**
 * A real Sentinel set-up on loopback: one primary, one replica and three
 * `redis-server --sentinel` processes monitoring them as `name`, with a generated configuration
 * (`down-after-milliseconds` 1000, a short `failover-timeout`) so a failover takes a few seconds.
 * Started for one suite and stopped by PID.
 */
export class RedisSentinelSet {
  readonly host = '127.0.0.1';
  readonly #dir = mkdtempSync(join(tmpdir(), 'tiered-cache-sentinel-'));
  readonly #children = new Map<number, ChildProcess>();
  #sentinelPorts: number[] = [];
  #dataPorts: number[] = [];

  private constructor(readonly name: string) {}

  static async start({ name = 'mymaster', downAfter = 1_000, failoverTimeout = 3_000 } = {}): Promise<RedisSentinelSet> {
    const set = new RedisSentinelSet(name);
    try {
      const primary = await set.#startServer((port) => set.#dataArgs(port));
      const replica = await set.#startServer((port) => [...set.#dataArgs(port), '--replicaof', set.host, String(primary)]);
      set.#dataPorts = [primary, replica];
      await set.#until(async () => /master_link_status:up/.test(await nodeCommand(replica, ['INFO', 'replication'])), 10_000, 'replica in sync');
      // Sentinels started after the replica is in sync learn of it from their first INFO.
      set.#sentinelPorts = await Promise.all(
        [0, 1, 2].map(() =>
          set.#startServer((port) => {
            const conf = join(set.#dir, `sentinel-${port}.conf`);
            writeFileSync(
              conf,
              [
                `port ${port}`,
                `bind ${set.host}`,
                `dir ${set.#dir}`,
                `sentinel monitor ${name} ${set.host} ${primary} 2`,
                `sentinel down-after-milliseconds ${name} ${downAfter}`,
                `sentinel failover-timeout ${name} ${failoverTimeout}`,
                `sentinel parallel-syncs ${name} 1`,
                '',
              ].join('\n'),
            );
            return [conf, '--sentinel', '--loglevel', 'warning'];
          }),
        ),
      );
      await set.waitUntilHealthy(15_000);
      return set;
    } catch (err) {
      await set.stop();
      throw err;
    }
  }

  /** The sentinels' addresses, for `redis: { sentinels, name }`. */
  get sentinels(): { host: string; port: number }[] {
    return this.#sentinelPorts.map((port) => ({ host: this.host, port }));
  }

  /** Ports of the primary and the replica as started (roles change on failover). */
  get dataPorts(): number[] {
    return [...this.#dataPorts];
  }

  /** The primary's port according to the first sentinel that answers. */
  async primaryPort(): Promise<number> {
    for (const port of this.#sentinelPorts) {
      try {
        const reply = (await nodeCall(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name])) as unknown[];
        return Number(String(reply[1]));
      } catch {
        // next sentinel
      }
    }
    throw new Error('no sentinel answers');
  }

  /**
   * Waits until every sentinel agrees on a primary that answers as a primary, knows the replica
   * and the two other sentinels, and the replica (if alive) is in sync.
   */
  async waitUntilHealthy(timeoutMs = 15_000): Promise<void> {
    await this.#until(
      async () => {
        const primaries = new Set<number>();
        for (const port of this.#sentinelPorts) {
          const reply = (await nodeCall(port, ['SENTINEL', 'MASTER', this.name])) as unknown[];
          const m = new Map<string, string>();
          for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
          if (m.get('flags') !== 'master' || m.get('num-other-sentinels') !== '2') return false;
          primaries.add(Number(m.get('port')));
        }
        if (primaries.size !== 1) return false;
        const [primary] = [...primaries];
        if (!/role:master/.test(await nodeCommand(primary!, ['INFO', 'replication']))) return false;
        for (const port of this.#dataPorts) {
          if (port === primary || !this.#children.has(port)) continue;
          if (!/master_link_status:up/.test(await nodeCommand(port, ['INFO', 'replication']))) return false;
        }
        return true;
      },
      timeoutMs,
      'sentinels agree on a primary',
    );
  }

  /** Waits until the sentinels name a primary other than `oldPort`; returns the new one. */
  async waitForFailover(oldPort: number, timeoutMs = 20_000): Promise<number> {
    let now = oldPort;
    await this.#until(async () => (now = await this.primaryPort()) !== oldPort, timeoutMs, `failover away from ${oldPort}`);
    return now;
  }

  signal(port: number, signal: NodeJS.Signals): void {
    const pid = this.#children.get(port)?.pid;
    if (pid === undefined) throw new Error(`no server on ${port}`);
    process.kill(pid, signal);
  }

  /** SIGKILLs one process (data node or sentinel) and waits until it is gone. */
  async kill(port: number): Promise<void> {
    const child = this.#children.get(port);
    if (child?.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(child.pid, 'SIGCONT');
    } catch {
      // already gone
    }
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** A plain client to one data node; `quit()` it after. */
  nodeClient(port: number): Redis {
    return new Redis({ host: this.host, port, maxRetriesPerRequest: 1, retryStrategy: () => null });
  }

  /** Stops every process (by PID) and removes the working directory. */
  async stop(): Promise<void> {
    await Promise.all([...this.#children.keys()].map((p) => this.kill(p)));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #dataArgs(port: number): string[] {
    return ['--port', String(port), ...throwawayServerArgs(this.host, this.#dir), '--repl-diskless-sync-delay', '0'];
  }

  /** Starts a server on a free port (another one if the port was taken meanwhile). */
  async #startServer(args: (port: number) => string[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child = spawn('redis-server', args(port), { stdio: ['ignore', 'ignore', 'inherit'] });
      this.#children.set(port, child);
      child.once('exit', () => {
        if (this.#children.get(port) === child) this.#children.delete(port);
      });
      try {
        await new Promise<void>((resolve, reject) => {
          child.once('error', (err) => reject(new Error(`Could not start redis-server (${err.message})`)));
          child.once('spawn', () => resolve());
        });
        await this.#until(
          async () => {
            if (!this.#children.has(port)) throw new Error(`redis-server on ${port} exited at start`);
            return (await nodeCommand(port, ['INFO', 'server'])).includes(`process_id:${child.pid}\r\n`);
          },
          5_000,
          `redis-server on ${port} answers`,
          true,
        );
        return port;
      } catch (err) {
        await this.kill(port);
        if (attempt >= 3) throw err;
      }
    }
  }

  async #until(check: () => Promise<boolean>, timeoutMs: number, what: string, rethrowExit = false): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        if (await check()) return;
      } catch (err) {
        if (rethrowExit && /exited at start/.test(String(err))) throw err;
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}${last ? ` (${String(last)})` : ''}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
