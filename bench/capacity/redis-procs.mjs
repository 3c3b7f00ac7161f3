// redis-server processes for the capacity runs: one standalone server and a loopback Cluster of
// `primaries` primaries (no replicas by default: on two shared cores a replica would only take CPU
// from the primaries being measured). Every process is started here on a free loopback port and
// stopped here by its PID; the working directory is removed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One command on a short-lived connection (PING, INFO, CLUSTER ...). */
export async function call(port, ...args) {
  const c = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.call(...args);
    return Buffer.isBuffer(r) ? r.toString() : r;
  } finally {
    c.disconnect();
  }
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${out}`))));
  });
}

export class RedisProcesses {
  #dir = mkdtempSync(join(tmpdir(), 'tiered-cache-capacity-'));
  #children = new Map(); // port -> ChildProcess

  /** Starts one server (extra arguments for cluster mode); resolves with its port once it is ours and answers. */
  async server(extra = () => []) {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', this.#dir, '--daemonize', 'no', '--loglevel', 'warning', ...extra(port)],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      this.#children.set(port, child);
      const deadline = Date.now() + 5_000;
      let ok = false;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          // Ours, not another process that took the port first.
          if (String(await call(port, 'INFO', 'server')).includes(`process_id:${child.pid}\r\n`)) {
            ok = true;
            break;
          }
        } catch {
          // not listening yet
        }
        await sleep(20);
      }
      if (ok) return port;
      await this.#kill(port);
      if (attempt >= 3) throw new Error(`redis-server did not start on ${port}`);
    }
  }

  pid(port) {
    return this.#children.get(port)?.pid;
  }

  /** A Cluster of `primaries` primaries with `replicas` replicas each, joined and healthy. */
  async cluster({ primaries = 3, replicas = 0 } = {}) {
    const ports = [];
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      ports.push(
        await this.server((port) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(this.#dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0']),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (;;) {
      let ok = true;
      for (const p of ports) if (!/cluster_state:ok/.test(await call(p, 'CLUSTER', 'INFO'))) ok = false;
      if (ok) break;
      if (Date.now() > deadline) throw new Error('cluster not healthy after 20 s');
      await sleep(100);
    }
    await sleep(500); // gossip settles: every node agrees on the slots
    const nodes = String(await call(ports[0], 'CLUSTER', 'NODES'));
    const primaryPorts = nodes
      .trim()
      .split('\n')
      .filter((l) => l.split(' ')[2].includes('master'))
      .map((l) => Number(/:(\d+)@/.exec(l)[1]));
    return { ports, primaryPorts };
  }

  async #kill(port) {
    const child = this.#children.get(port);
    this.#children.delete(port);
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** Stops every server started here, by PID, and removes the working directory. */
  async stop() {
    await Promise.all([...this.#children.keys()].map((p) => this.#kill(p)));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process 'exit' handler). */
  killAllSync() {
    for (const child of this.#children.values()) {
      try {
        if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
