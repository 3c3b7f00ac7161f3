import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort, throwawayServerArgs } from './redis-server.js';

/** One `redis-server --cluster-enabled yes` process of a loopback Cluster. */
export interface ClusterNodeProcess {
  port: number;
  child: ChildProcess;
}

/** A node as `CLUSTER NODES` describes it. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'slave';
  failed: boolean;
  /** For a replica: the id of its primary. */
  masterId: string | undefined;
  /** Slot ranges served (primaries only), e.g. [[0, 5460]]. */
  slots: [number, number][];
}

/**
 * A real Redis Cluster on loopback: `primaries` × (1 + `replicas`) `redis-server` processes on free
 * ports, joined with `redis-cli --cluster create`, started for one suite and stopped by PID.
 * `--cluster-node-timeout 1000` keeps failovers around two seconds.
 */
export class RedisCluster {
  readonly host = '127.0.0.1';
  readonly #dir = mkdtempSync(join(tmpdir(), 'tiered-cache-cluster-'));
  readonly #nodes = new Map<number, ClusterNodeProcess>();

  private constructor() {}

  static async start({ primaries = 3, replicas = 1, nodeTimeout = 1_000 } = {}): Promise<RedisCluster> {
    const cluster = new RedisCluster();
    try {
      // A port found free can be taken by another process before the server binds it: try
      // another one then.
      const ports = await Promise.all(Array.from({ length: primaries * (1 + replicas) }, () => cluster.#spawnOnFreePort(nodeTimeout)));
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${cluster.host}:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
      await cluster.waitUntilHealthy(20_000);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Startup nodes for ioredis (every node; a client needs only one that answers). */
  get startupNodes(): { host: string; port: number }[] {
    return [...this.#nodes.keys()].map((port) => ({ host: this.host, port }));
  }

  /** The ports of the processes still running. */
  get ports(): number[] {
    return [...this.#nodes.keys()];
  }

  pid(port: number): number | undefined {
    return this.#nodes.get(port)?.child.pid;
  }

  /** `CLUSTER NODES` as seen by a live node. */
  async topology(): Promise<ClusterNodeInfo[]> {
    for (const port of this.ports) {
      try {
        const text = await nodeCommand(port, ['CLUSTER', 'NODES']);
        return parseClusterNodes(text);
      } catch {
        // try the next node
      }
    }
    throw new Error('no cluster node answers');
  }

  /** The port of the primary serving `slot`, according to a live node. */
  async primaryPortFor(slot: number): Promise<number> {
    const owner = (await this.topology()).find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
    return owner.port;
  }

  /** The port of a replica of the primary on `primaryPort`. */
  async replicaPortOf(primaryPort: number): Promise<number> {
    const nodes = await this.topology();
    const primary = nodes.find((n) => n.port === primaryPort);
    const replica = nodes.find((n) => n.masterId === primary?.id && !n.failed);
    if (replica === undefined) throw new Error(`no replica of ${primaryPort}`);
    return replica.port;
  }

  /** Sends a real signal to one node's process. */
  signal(port: number, signal: NodeJS.Signals): void {
    const pid = this.pid(port);
    if (pid === undefined) throw new Error(`no cluster node on ${port}`);
    process.kill(pid, signal);
  }

  /** SIGKILLs one node and waits until the process is gone. */
  async kill(port: number): Promise<void> {
    const node = this.#nodes.get(port);
    if (node === undefined) return;
    const exited = new Promise<void>((resolve) => node.child.once('exit', () => resolve()));
    try {
      process.kill(node.child.pid!, 'SIGCONT');
    } catch {
      // already gone
    }
    process.kill(node.child.pid!, 'SIGKILL');
    await exited;
  }

  /**
   * Waits until every live node reports `cluster_state:ok`, every slot is served by a primary
   * that is not failed, and every live replica has a replication link that is up.
   */
  async waitUntilHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        last = await this.#health();
        if (last === '') return;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A plain ioredis Cluster client to inspect what the cache stored; `quit()` it after. */
  rawClient(): Cluster {
    return new Cluster(this.startupNodes, {
      redisOptions: { maxRetriesPerRequest: 1 },
      clusterRetryStrategy: (times) => Math.min(times * 50, 500),
    });
  }

  /** A plain client connected to one node (commands about that node: INFO, DBSIZE, SCAN). */
  nodeClient(port: number): Redis {
    return new Redis({ host: this.host, port, maxRetriesPerRequest: 1, retryStrategy: () => null });
  }

  /** Stops every node (by PID) and removes the working directory. */
  async stop(): Promise<void> {
    await Promise.all(this.ports.map((p) => this.kill(p)));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #health(): Promise<string> {
    const nodes = this.ports;
    for (const port of nodes) {
      const info = await nodeCommand(port, ['CLUSTER', 'INFO']);
      if (!/cluster_state:ok/.test(info)) return `${port}: ${/cluster_state:\w+/.exec(info)?.[0]}`;
    }
    const topology = await this.topology();
    const live = topology.filter((n) => !n.failed && this.#nodes.has(n.port));
    const covered = live
      .filter((n) => n.role === 'master')
      .flatMap((n) => n.slots)
      .reduce((s, [a, b]) => s + b - a + 1, 0);
    if (covered !== 16_384) return `slots covered by live primaries: ${covered}`;
    for (const n of live.filter((x) => x.role === 'slave')) {
      const repl = await nodeCommand(n.port, ['INFO', 'replication']);
      if (!/master_link_status:up/.test(repl)) return `replica ${n.port} not in sync`;
    }
    // Every live node must agree on who the primaries are (gossip settled).
    for (const port of nodes) {
      const view = parseClusterNodes(await nodeCommand(port, ['CLUSTER', 'NODES']));
      const primaries = view
        .filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0)
        .map((n) => n.port)
        .sort();
      const expected = live
        .filter((n) => n.role === 'master' && n.slots.length > 0)
        .map((n) => n.port)
        .sort();
      if (primaries.join() !== expected.join()) return `node ${port} sees primaries ${primaries.join()}`;
    }
    return '';
  }

  async #spawnOnFreePort(nodeTimeout: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      if (this.#nodes.has(port)) continue;
      try {
        await this.#spawn(port, nodeTimeout);
        return port;
      } catch (err) {
        await this.kill(port);
        if (attempt >= 3) throw err;
      }
    }
  }

  async #spawn(port: number, nodeTimeout: number): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        ...throwawayServerArgs(this.host, this.#dir),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(this.#dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        String(nodeTimeout),
        // A replica stopped for a test (SIGSTOP) may still be promoted afterwards.
        '--cluster-replica-validity-factor',
        '0',
        // Replicas sync at once instead of after the default 5 s diskless-sync delay.
        '--repl-diskless-sync-delay',
        '0',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.#nodes.set(port, { port, child });
    child.once('exit', () => {
      if (this.#nodes.get(port)?.child === child) this.#nodes.delete(port);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`Could not start redis-server (${err.message})`)));
      child.once('spawn', () => resolve());
    });
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        // Ours, not another suite's server that took the port first.
        const info = await nodeCommand(port, ['INFO', 'server']);
        if (info.includes(`process_id:${child.pid}\r\n`)) return;
      } catch {
        // not listening yet
      }
      if (!this.#nodes.has(port)) throw new Error(`cluster node ${port} exited at start`);
      if (Date.now() > deadline) throw new Error(`cluster node ${port} did not answer PING`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)/.exec(addr!)![1]);
      const f = flags!.split(',');
      return {
        id: id!,
        port,
        role: f.includes('master') ? 'master' : 'slave',
        failed: f.includes('fail') || f.includes('fail?') || f.includes('noaddr'),
        masterId: master === '-' ? undefined : master,
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [a, b] = s.split('-').map(Number);
            return [a!, b ?? a!] as [number, number];
          }),
      };
    });
}

/** One command to one server on a short-lived connection; rejects if it does not answer. */
export async function nodeCall(port: number, args: string[], host = '127.0.0.1'): Promise<unknown> {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

/** `nodeCall` for commands with a text reply (PING, INFO, CLUSTER NODES). */
export async function nodeCommand(port: number, args: string[], host = '127.0.0.1'): Promise<string> {
  const reply = await nodeCall(port, args, host);
  return Buffer.isBuffer(reply) ? reply.toString() : String(reply);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${out}`))));
  });
}
