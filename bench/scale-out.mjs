#!/usr/bin/env node
// Scale-out benchmark: the library on a 3-primary + 3-replica Redis Cluster against one Redis,
// on the same machine, reported as ratios (cluster / standalone), plus the bus measurement that
// chose classic over sharded pub/sub.
//
//   npm run build && node bench/scale-out.mjs          (BENCH_QUICK=1 for a short smoke run)
//
// Starts its own redis-server processes on free loopback ports (stopped by PID on exit) and uses
// the built library (dist/). Scenarios:
//   l2-hit     one process, l1: false, 64 concurrent callers of getOrSet on 10 000 warm keys: ops/s
//   stampede   4 processes × 250 concurrent getOrSet on one cold key (loader 50 ms), 20 rounds:
//              wall time per round until every caller has the value, and loader runs per round
//   bus        delivery latency (one message in flight) and throughput (50 000 messages) of
//              PUBLISH vs SPUBLISH, subscriber on another node; cluster-bus messages per PUBLISH
import 'reflect-metadata';
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NestFactory } from '@nestjs/core';
import { Cluster, Redis } from 'ioredis';
import { TieredCacheModule, TieredCacheService } from '../dist/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SELF = fileURLToPath(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Worker mode: one instance of the fleet (forked by the stampede scenario).
if (process.argv[2] === 'worker') {
  const redis = JSON.parse(process.argv[3]);
  const keyPrefix = process.argv[4];
  const app = await NestFactory.createApplicationContext(TieredCacheModule.forRoot({ redis, keyPrefix }), { logger: false });
  const cache = app.get(TieredCacheService);
  const counter = typeof redis === 'string' ? new Redis(redis) : new Cluster(redis.cluster);
  process.on('message', async (m) => {
    const t0 = performance.now();
    const values = await Promise.all(
      Array.from({ length: m.n }, () =>
        cache.getOrSet(m.key, async () => {
          await counter.incr(`count:${keyPrefix}${m.key}`);
          await sleep(50);
          return { loadedBy: process.pid };
        }),
      ),
    );
    const { l2, lease } = cache.stats();
    process.send({ ms: performance.now() - t0, ok: values.length, l2Timeouts: l2.timeouts, l2Errors: l2.errors, leaseTimeouts: lease.timeouts });
  });
  process.on('disconnect', async () => {
    await app.close();
    counter.disconnect();
    process.exit(0);
  });
  process.send({ ready: true });
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const procs = [];
  const dir = mkdtempSync(join(tmpdir(), 'tiered-cache-bench-'));
  const stopAll = () => {
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopAll);
  process.on('SIGINT', () => process.exit(130));

  const startServer = async (extra = () => []) => {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', '--repl-diskless-sync-delay', '0', ...extra(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(child);
    await until(async () => (await call(port, 'PING')) === 'PONG', 5_000);
    return port;
  };

  log(`redis-server ${(await run('redis-server', ['--version'])).match(/v=(\S+)/)?.[1]}, node ${process.version}`);
  const standalonePort = await startServer();
  const clusterPorts = [];
  for (let i = 0; i < 6; i++) {
    clusterPorts.push(await startServer((port) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '1000']));
  }
  await run('redis-cli', ['--cluster', 'create', ...clusterPorts.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
  await until(async () => {
    for (const p of clusterPorts) if (!/cluster_state:ok/.test(await call(p, 'CLUSTER', 'INFO'))) return false;
    return true;
  }, 20_000);
  await sleep(500);

  const topologies = {
    standalone: `redis://${HOST}:${standalonePort}`,
    cluster: { cluster: [{ host: HOST, port: clusterPorts[0] }] },
  };
  // Both topologies run in alternating windows, so a busy machine slows both alike; the ratio is
  // the median of the per-window ratios.
  const results = { l2Hit: await l2Hit(topologies), stampede: await stampede(topologies) };
  log(JSON.stringify(results));
  results.bus = await bus(standalonePort, clusterPorts);

  const { l2Hit: h, stampede: st } = results;
  const lines = [
    `L2-hit throughput (1 process, 64 callers, l1: false; median of ${h.windows} alternating windows): standalone ${h.standalone.opsPerSec} ops/s, cluster ${h.cluster.opsPerSec} ops/s -> ratio ${h.ratio} (per-window ratios ${h.ratios.join(', ')})`,
    `L2-hit latency p50/p99: standalone ${h.standalone.p50Ms}/${h.standalone.p99Ms} ms, cluster ${h.cluster.p50Ms}/${h.cluster.p99Ms} ms; loader runs (failed L2 reads): standalone ${h.standalone.misses}, cluster ${h.cluster.misses}`,
    `Fleet stampede (4 processes x 250 callers, loader 50 ms; ${st.rounds} alternating rounds each) median round: standalone ${st.standalone.medianMs} ms, cluster ${st.cluster.medianMs} ms -> ratio ${st.ratio}; loader runs per round: standalone ${st.standalone.loadsPerRound}, cluster ${st.cluster.loadsPerRound}`,
    `Bus PUBLISH (classic) delivery p50/p99, one message in flight: standalone ${results.bus.standalone.p50Ms}/${results.bus.standalone.p99Ms} ms, cluster (publisher and subscriber on different nodes) ${results.bus.classic.p50Ms}/${results.bus.classic.p99Ms} ms`,
    `Bus SPUBLISH (sharded) delivery p50/p99, one message in flight (subscriber on the shard's replica): ${results.bus.sharded.p50Ms}/${results.bus.sharded.p99Ms} ms`,
    `Bus throughput (${results.bus.classic.messages} pipelined messages): classic ${results.bus.classic.perSec} msg/s, sharded ${results.bus.sharded.perSec} msg/s, standalone ${results.bus.standalone.perSec} msg/s`,
    `Cluster-bus messages per classic PUBLISH: ${results.bus.clusterBusPerPublish} (one per other node); per SPUBLISH: ${results.bus.clusterBusPerSpublish}`,
    `PUBLISH inside a script on a key's primary reached ${results.bus.scriptPublishReached} of ${clusterPorts.length - 1} subscribers on other nodes; SPUBLISH inside that script: ${results.bus.scriptSpublish}`,
  ];
  console.log(JSON.stringify(results, null, 2));
  console.log(lines.join('\n'));
  // Wait for the servers to be gone: torn down in the background, they took the CPU from the
  // next section of `npm run bench` (its first latencies doubled).
  const gone = procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => p.once('exit', r))));
  stopAll();
  await Promise.race([Promise.all(gone), sleep(10_000)]);
  process.exit(0);
}

async function app(redis, options = {}) {
  const keyPrefix = `bench-${Math.random().toString(36).slice(2, 8)}:`;
  const nest = await NestFactory.createApplicationContext(TieredCacheModule.forRoot({ redis, keyPrefix, ...options }), { logger: false });
  return { nest, cache: nest.get(TieredCacheService), keyPrefix };
}

async function l2Hit(topologies) {
  const N = 10_000;
  const value = { id: 1, name: 'x'.repeat(900) };
  const sides = {};
  for (const [name, redis] of Object.entries(topologies)) {
    // Measures Redis round trips: no breaker and a long timeout, so a busy machine cannot turn
    // L2 reads into (much faster) skipped reads and loader runs.
    const { nest, cache } = await app(redis, { l1: false, breaker: false, l2Timeout: 2_000 });
    for (let i = 0; i < N; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => cache.set(`k${i + j}`, { ...value, id: i + j })));
    // Every key is warm: a loader run means an L2 read failed or timed out (counted, reported).
    const side = { nest, cache, misses: 0, ops: [], lat: [] };
    side.loader = () => {
      side.misses++;
      return value;
    };
    sides[name] = side;
  }
  const runFor = async (side, ms, record) => {
    const end = performance.now() + ms;
    let ops = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          await side.cache.getOrSet(`k${(Math.random() * N) | 0}`, side.loader);
          if (record) side.lat.push(performance.now() - t0);
          ops++;
        }
      }),
    );
    return ops / (ms / 1_000);
  };
  for (const side of Object.values(sides)) await runFor(side, QUICK ? 300 : 1_000, false);
  const windows = QUICK ? 3 : 9;
  const ms = QUICK ? 500 : 1_500;
  const ratios = [];
  for (let w = 0; w < windows; w++) {
    const order = w % 2 === 0 ? ['standalone', 'cluster'] : ['cluster', 'standalone'];
    const got = {};
    for (const name of order) got[name] = await runFor(sides[name], ms, true);
    sides.standalone.ops.push(got.standalone);
    sides.cluster.ops.push(got.cluster);
    ratios.push(round(got.cluster / got.standalone));
  }
  const out = { windows, ratio: median(ratios), ratios };
  for (const [name, side] of Object.entries(sides)) {
    side.lat.sort((x, y) => x - y);
    const stats = side.cache.stats();
    out[name] = {
      opsPerSec: Math.round(median(side.ops)), p50Ms: round(side.lat[side.lat.length >> 1]), p99Ms: round(side.lat[Math.floor(side.lat.length * 0.99)]),
      misses: side.misses, l2Errors: stats.l2.errors, l2Timeouts: stats.l2.timeouts,
    };
    await side.nest.close();
  }
  return out;
}

async function stampede(topologies) {
  const sides = {};
  for (const [name, redis] of Object.entries(topologies)) {
    const keyPrefix = `bench-fleet-${Math.random().toString(36).slice(2, 8)}:`;
    const workers = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise((resolve, reject) => {
            const w = fork(SELF, ['worker', JSON.stringify(redis), keyPrefix], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
            w.once('message', () => resolve(w));
            w.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
          }),
      ),
    );
    const counter = typeof redis === 'string' ? new Redis(redis) : new Cluster(redis.cluster);
    sides[name] = { keyPrefix, workers, counter, walls: [], loads: 0, last: [] };
  }
  const rounds = QUICK ? 5 : 21;
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['standalone', 'cluster'] : ['cluster', 'standalone'];
    const wall = {};
    for (const name of order) {
      const side = sides[name];
      const key = `cold-${r}`;
      const t0 = performance.now();
      side.last = await Promise.all(side.workers.map((w) => new Promise((resolve) => {
        w.once('message', resolve);
        w.send({ key, n: 250 });
      })));
      wall[name] = performance.now() - t0;
      side.walls.push(wall[name]);
      side.loads += Number(await side.counter.get(`count:${side.keyPrefix}${key}`));
    }
    ratios.push(round(wall.cluster / wall.standalone));
  }
  const out = { rounds, ratio: median(ratios) };
  for (const [name, side] of Object.entries(sides)) {
    // Cumulative per worker: an extra loader run comes with an L2 timeout (a waiter that could not
    // read the stored value in time takes the freed lease and loads again).
    const sum = (f) => side.last.reduce((n, m) => n + m[f], 0);
    out[name] = {
      medianMs: round(median(side.walls)), loadsPerRound: round(side.loads / rounds),
      l2Timeouts: sum('l2Timeouts'), l2Errors: sum('l2Errors'), leaseTimeouts: sum('leaseTimeouts'),
    };
    for (const w of side.workers) w.disconnect();
    side.counter.disconnect();
  }
  return out;
}

async function bus(standalonePort, clusterPorts) {
  const slotOf = async (port, key) => Number(await call(port, 'CLUSTER', 'KEYSLOT', key));
  const nodes = parseNodes(await call(clusterPorts[0], 'CLUSTER', 'NODES'));
  const primaryOf = (slot) => nodes.find((n) => n.master && n.slots.some(([a, b]) => slot >= a && slot <= b));
  const channel = 'bench:__bus:v1';
  const chPrimary = primaryOf(await slotOf(clusterPorts[0], channel));
  const chReplica = nodes.find((n) => n.masterId === chPrimary.id);
  const other = nodes.find((n) => n.port !== chPrimary.port && n.port !== chReplica.port);

  const classic = await delivery({ pubPort: other.port, subPort: chReplica.port, pub: 'publish', sub: 'subscribe', channel });
  const sharded = await delivery({ pubPort: chPrimary.port, subPort: chReplica.port, pub: 'spublish', sub: 'ssubscribe', channel });
  const standalone = await delivery({ pubPort: standalonePort, subPort: standalonePort, pub: 'publish', sub: 'subscribe', channel });

  // Cluster-bus traffic per message.
  const busSent = async (field) => {
    let n = 0;
    for (const n2 of nodes) n += Number(new RegExp(`${field}:(\\d+)`).exec(await call(n2.port, 'CLUSTER', 'INFO'))?.[1] ?? 0);
    return n;
  };
  const pub = new Redis({ host: HOST, port: other.port });
  let before = await busSent('cluster_stats_messages_publish_sent');
  for (let i = 0; i < 1_000; i++) await pub.publish(channel, 'x');
  const clusterBusPerPublish = round(((await busSent('cluster_stats_messages_publish_sent')) - before) / 1_000);
  pub.disconnect();
  const spub = new Redis({ host: HOST, port: chPrimary.port });
  before = await busSent('cluster_stats_messages_publishshard_sent');
  for (let i = 0; i < 1_000; i++) await spub.spublish(channel, 'x');
  const clusterBusPerSpublish = round(((await busSent('cluster_stats_messages_publishshard_sent')) - before) / 1_000);
  spub.disconnect();

  // PUBLISH inside a script on a key's primary (what the lease FILL script does), subscribers elsewhere.
  let key = 'bench:{k0}';
  for (let i = 1; primaryOf(await slotOf(clusterPorts[0], key)).port === chPrimary.port; i++) key = `bench:{k${i}}`;
  const keyPrimary = primaryOf(await slotOf(clusterPorts[0], key));
  const subs = nodes.filter((n) => n.port !== keyPrimary.port).map((n) => new Redis({ host: HOST, port: n.port }));
  let reached = 0;
  await Promise.all(subs.map(async (s) => {
    s.on('message', (_c, m) => m === 'fill' && reached++);
    await s.subscribe(channel);
  }));
  const onKey = new Redis({ host: HOST, port: keyPrimary.port });
  await onKey.eval("redis.call('SET', KEYS[1], 'v', 'PX', 1000) redis.call('PUBLISH', ARGV[1], ARGV[2]) return 1", 1, key, channel, 'fill');
  let scriptSpublish;
  try {
    await onKey.eval("redis.call('SET', KEYS[1], 'v', 'PX', 1000) return redis.call('SPUBLISH', ARGV[1], ARGV[2])", 1, key, channel, 'fill');
    scriptSpublish = 'accepted';
  } catch (err) {
    scriptSpublish = `refused (${err.message.split(' script:')[0]})`;
  }
  await sleep(300);
  for (const s of subs) s.disconnect();
  onKey.disconnect();
  return { standalone, classic, sharded, clusterBusPerPublish, clusterBusPerSpublish, scriptPublishReached: reached, scriptSpublish };
}

async function delivery({ pubPort, subPort, pub, sub, channel }) {
  const publisher = new Redis({ host: HOST, port: pubPort });
  const subscriber = new Redis({ host: HOST, port: subPort });
  if (sub === 'ssubscribe') await subscriber.readonly().catch(() => undefined);
  await subscriber[sub](channel);
  const event = sub === 'ssubscribe' ? 'smessage' : 'message';
  // One message in flight: latency.
  const lat = [];
  const one = QUICK ? 500 : 2_000;
  for (let i = 0; i < one; i++) {
    // The message carries its send time; the subscriber measures on arrival.
    const got = new Promise((r) => subscriber.once(event, (_c, m) => r(performance.now() - Number(m))));
    await publisher[pub](channel, String(performance.now()));
    lat.push(await got);
  }
  // Many in flight: throughput.
  const messages = QUICK ? 10_000 : 50_000;
  let received = 0;
  const all = new Promise((r) => subscriber.on(event, () => ++received === messages && r()));
  const t0 = performance.now();
  for (let i = 0; i < messages; i += 1_000) {
    const p = publisher.pipeline();
    for (let j = 0; j < 1_000; j++) p[pub](channel, 'm');
    await p.exec();
  }
  await all;
  const secs = (performance.now() - t0) / 1_000;
  publisher.disconnect();
  subscriber.disconnect();
  lat.sort((a, b) => a - b);
  return { p50Ms: round(lat[lat.length >> 1]), p99Ms: round(lat[Math.floor(lat.length * 0.99)]), messages, perSec: Math.round(messages / secs) };
}

function parseNodes(text) {
  return text.trim().split('\n').map((line) => {
    const [id, addr, flags, master, , , , , ...slots] = line.split(' ');
    return {
      id, port: Number(/:(\d+)/.exec(addr)[1]), master: flags.includes('master'), masterId: master === '-' ? undefined : master,
      slots: slots.filter((s) => !s.startsWith('[')).map((s) => s.split('-').map(Number)).map(([a, b]) => [a, b ?? a]),
    };
  });
}

async function call(port, ...args) {
  const c = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.call(...args);
    return Buffer.isBuffer(r) ? r.toString() : String(r);
  } catch {
    return '';
  } finally {
    c.disconnect();
  }
}

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd}: ${out}`))));
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function round(x) {
  return Math.round(x * 100) / 100;
}

function log(msg) {
  process.stderr.write(`[scale-out] ${msg}\n`);
}
