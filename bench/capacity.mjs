#!/usr/bin/env node
// Capacity model (issue 17): how Redis load grows with the fleet, measured on fleets of 2-32
// processes and checked against bench/capacity/model.mjs.
//
//   npm run build && node bench/capacity.mjs        (run by `npm run bench` unless BENCH_SKIP_CAPACITY=1)
//   node bench/capacity.mjs --report                re-renders bench/CAPACITY.md and docs/capacity.md's tables from bench/capacity.json
//
// Starts its own redis-server processes (one standalone server, a 3-primary loopback Cluster) on
// free loopback ports and stops them by PID. Workload: Zipf over 1 M keys (s = 0.99), 95% reads
// (@Cacheable), 5% writes (half cache.set, half @CacheEvict), ~1 KB JSON values. Per topology and
// fleet size N, N child processes (bench/capacity/worker.mjs, each a Nest app on the built library)
// run, for each l1.max, from a flushed Redis and empty L1s: `warm` requests each, then `measured`
// requests each, the measured window bracketed by INFO snapshots of every primary. Rates are per
// request, which stay meaningful on two shared cores where 32 processes cannot all be busy.
//
// env: BENCH_QUICK=1 (sizes 2,4,8; one l1.max), CAPACITY_SIZES=2,4,8,16,32, CAPACITY_L1=100,1000,10000,
//      CAPACITY_L1_CLUSTER=1000, CAPACITY_TOPOLOGIES=standalone,cluster, CAPACITY_WARM=500, CAPACITY_MEASURED=1500,
//      CAPACITY_CAP_S=180 (time cap per phase), BENCH_OURS_DIST (run.sh's snapshot of dist/),
//      CAPACITY_MERGE=1 (keep the recorded points of bench/capacity.json that this run does not measure again,
//      so a long run can be taken in parts when the machine is quiet).
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { predictRun, predictSteady, perRequest, saturationRate } from './capacity/model.mjs';
import { HOST, RedisProcesses } from './capacity/redis-procs.mjs';
import { docTables, fillDoc, renderCapacityReport } from './capacity/report.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const JSON_PATH = `${here}capacity.json`;
const MD_PATH = `${here}CAPACITY.md`;
const DOC_PATH = `${here}../docs/capacity.md`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[capacity ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
const list = (v, d) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : d);

const QUICK = process.env.BENCH_QUICK === '1';
const WORKLOAD = { keys: 1_000_000, s: 0.99, writeShare: 0.05, valueBytes: 1_017, concurrency: 4 };
const CONFIG = {
  sizes: list(process.env.CAPACITY_SIZES, QUICK ? ['2', '4', '8'] : ['2', '4', '8', '16', '32']).map(Number),
  l1Sizes: list(process.env.CAPACITY_L1, QUICK ? ['1000'] : ['100', '1000', '10000']).map(Number),
  // On the Cluster the hit ratios are the same as on one Redis (the same model): one L1 size there.
  l1SizesCluster: list(process.env.CAPACITY_L1_CLUSTER, ['1000']).map(Number),
  topologies: list(process.env.CAPACITY_TOPOLOGIES, ['standalone', 'cluster']),
  warm: Number(process.env.CAPACITY_WARM ?? (QUICK ? 300 : 500)),
  measured: Number(process.env.CAPACITY_MEASURED ?? (QUICK ? 700 : 1500)),
  capS: Number(process.env.CAPACITY_CAP_S ?? 180),
  calibrationOps: QUICK ? 1_000 : 3_000,
  clusterPrimaries: 3,
};
const DIST = process.env.BENCH_OURS_DIST || fileURLToPath(new URL('../dist/index.js', import.meta.url));

if (process.argv.includes('--report')) {
  const data = JSON.parse(readFileSync(JSON_PATH, 'utf8'));
  attachModel(data);
  writeFileSync(JSON_PATH, JSON.stringify(data, null, 2) + '\n');
  writeFileSync(MD_PATH, renderCapacityReport(data));
  writeFileSync(DOC_PATH, fillDoc(readFileSync(DOC_PATH, 'utf8'), docTables(data)));
  log('re-rendered bench/CAPACITY.md and the tables of docs/capacity.md');
  process.exit(0);
}

// ------------------------------------------------------------------------------------------ Redis stats
const ADMIN = /^(info|ping|flushall|flushdb|hello|select|auth|readonly|quit|config\|.*|client\|.*|cluster\|.*|command\|.*|script\|.*|slowlog\|.*)$/;

async function snapshot(ports) {
  const per = [];
  for (const port of ports) {
    const c = new Redis({ host: HOST, port, maxRetriesPerRequest: 1, lazyConnect: true });
    await c.connect();
    const info = await c.info('stats', 'cpu', 'commandstats');
    c.disconnect();
    const num = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    const cmds = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!ADMIN.test(m[1])) cmds[m[1]] = Number(m[2]);
    per.push({ port, cpuUs: (num('used_cpu_sys') + num('used_cpu_user')) * 1e6, inBytes: num('total_net_input_bytes'), outBytes: num('total_net_output_bytes'), cmds });
  }
  return per;
}

function delta(before, after) {
  const nodes = after.map((a, i) => {
    const b = before[i];
    const cmds = {};
    for (const [k, v] of Object.entries(a.cmds)) if (v - (b.cmds[k] ?? 0) > 0) cmds[k] = v - (b.cmds[k] ?? 0);
    return { port: a.port, cpuUs: a.cpuUs - b.cpuUs, inBytes: a.inBytes - b.inBytes, outBytes: a.outBytes - b.outBytes, cmds };
  });
  const sum = (f) => nodes.reduce((n, x) => n + x[f], 0);
  const cmds = {};
  for (const n of nodes) for (const [k, v] of Object.entries(n.cmds)) cmds[k] = (cmds[k] ?? 0) + v;
  return { cpuUs: sum('cpuUs'), inBytes: sum('inBytes'), outBytes: sum('outBytes'), commands: Object.values(cmds).reduce((a, b) => a + b, 0), cmds, nodes };
}

async function idleCpuRate(ports, ms = 2_000) {
  const a = await snapshot(ports);
  await sleep(ms);
  const b = await snapshot(ports);
  return delta(a, b).cpuUs / (ms / 1000); // µs of Redis CPU per second with nobody working
}

async function flush(ports) {
  for (const port of ports) {
    const c = new Redis({ host: HOST, port, maxRetriesPerRequest: 1 });
    await c.flushall();
    c.disconnect();
  }
}

// ------------------------------------------------------------------------------------------ calibration
// Each class of request alone, on one in-process instance with L1 off: what one L2 hit, one miss
// (GET, lease, load, fill + announcement), one set and one delete cost Redis, and what one more
// subscriber costs per bus message (31 raw subscribers on the bus channel, deletes of absent keys).
async function calibrate(redis, ports, idleUsPerS) {
  const { NestFactory } = await import('@nestjs/core');
  const { TieredCacheModule, TieredCacheService } = await import(DIST);
  const { makeValue } = await import('./lib/common.mjs');
  const keyPrefix = 'cal:';
  const app = await NestFactory.createApplicationContext(
    TieredCacheModule.forRoot({ redis, keyPrefix, ttl: 3_600_000, l1: false, serializer: 'json', l2Timeout: 2_000, breaker: false }),
    { logger: false },
  );
  const cache = app.get(TieredCacheService);
  const K = CONFIG.calibrationOps;
  const inFlight = async (fn) => {
    let i = 0;
    await Promise.all(Array.from({ length: WORKLOAD.concurrency }, async () => {
      while (i < K) await fn(i++);
    }));
  };
  const measure = async (label, fn) => {
    await sleep(100);
    const a = await snapshot(ports);
    const t0 = performance.now();
    await inFlight(fn);
    await sleep(150);
    const d = delta(a, await snapshot(ports));
    const cpuUs = Math.max(0, d.cpuUs - (idleUsPerS * (performance.now() - t0)) / 1000);
    const per = { commands: d.commands / K, inBytes: d.inBytes / K, outBytes: d.outBytes / K, cpuUs: cpuUs / K, cmds: Object.fromEntries(Object.entries(d.cmds).map(([k, v]) => [k, v / K])) };
    log(`calibration ${label}: ${per.commands.toFixed(2)} commands, ${per.inBytes.toFixed(0)} B in, ${per.outBytes.toFixed(0)} B out, ${per.cpuUs.toFixed(1)} µs Redis CPU per op (${(performance.now() - t0).toFixed(0)} ms)`);
    return per;
  };
  const loaderNever = () => {
    throw new Error('calibration: an L2 hit ran the loader');
  };
  const out = {};
  out.set = await measure('set', (i) => cache.set(`k${i}`, makeValue(i)));
  out.hit = await measure('L2 hit', (i) => cache.getOrSet(`k${i}`, loaderNever));
  out.miss = await measure('miss', (i) => cache.getOrSet(`m${i}`, async () => makeValue(i)));
  out.del = await measure('delete', (i) => cache.del(`k${i}`));
  const delAbsent0 = await measure('delete (absent key), own subscriber only', (i) => cache.del(`a${i}`));
  const subs = [];
  for (let i = 0; i < 31; i++) {
    const s = typeof redis === 'string' ? new Redis(redis) : new Cluster(redis.cluster);
    await s.subscribe(`${keyPrefix}__bus:v1`);
    subs.push(s);
  }
  const delAbsent31 = await measure('delete (absent key), 31 more subscribers', (i) => cache.del(`b${i}`));
  for (const s of subs) s.disconnect();
  out.delivery = { cpuUs: (delAbsent31.cpuUs - delAbsent0.cpuUs) / 31, outBytes: (delAbsent31.outBytes - delAbsent0.outBytes) / 31 };
  log(`calibration: one more subscriber costs ${out.delivery.cpuUs.toFixed(2)} µs and ${out.delivery.outBytes.toFixed(0)} B out per bus message`);
  out.stats = cache.stats();
  await app.close();
  return out;
}

// ------------------------------------------------------------------------------------------ fleet runs
function startWorker(redis, seed) {
  const w = fork(`${here}capacity/worker.mjs`, [JSON.stringify({ redis, seed, keys: WORKLOAD.keys, s: WORKLOAD.s })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: process.env,
  });
  w.inbox = [];
  w.waiters = [];
  w.on('message', (m) => (w.waiters.length ? w.waiters.shift()(m) : w.inbox.push(m)));
  w.next = () => (w.inbox.length ? Promise.resolve(w.inbox.shift()) : new Promise((r) => w.waiters.push(r)));
  return w;
}

function withCap(promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: over the ${CONFIG.capS} s cap`)), CONFIG.capS * 1000))),
  ]);
}

async function all(workers, msg, what) {
  return withCap(
    Promise.all(
      workers.map((w) => {
        const p = w.next();
        if (msg) w.send(msg);
        return p;
      }),
    ),
    what,
  );
}

const sumStats = (xs, f) => xs.reduce((n, s) => n + f(s), 0);

async function fleetRun({ topology, redis, ports, N, idleUsPerS }) {
  const t0 = performance.now();
  const workers = Array.from({ length: N }, (_, i) => startWorker(redis, 1_000 * N + i + 1));
  const runs = [];
  try {
    await all(workers, null, `${topology} N=${N}: start`);
    log(`${topology} N=${N}: ${N} processes up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const l1Max of topology === 'cluster' ? CONFIG.l1SizesCluster : CONFIG.l1Sizes) {
      await flush(ports);
      const keyPrefix = `cap:${l1Max}:`;
      await all(workers, { cmd: 'open', l1Max, keyPrefix }, 'open');
      const run = { cmd: 'run', concurrency: WORKLOAD.concurrency, writeShare: WORKLOAD.writeShare };
      await all(workers, { ...run, requests: CONFIG.warm, phase: 'warm' }, 'warm');
      await sleep(200); // announcements of the warm phase land
      const s0 = (await all(workers, { cmd: 'stats' }, 'stats')).map((m) => m.stats);
      const before = await snapshot(ports);
      const tm = performance.now();
      const done = await all(workers, { ...run, requests: CONFIG.measured, phase: 'measured' }, 'measured');
      const wallMs = performance.now() - tm;
      await sleep(300); // background fills and announcements land
      const d = delta(before, await snapshot(ports));
      const s1 = (await all(workers, { cmd: 'stats' }, 'stats')).map((m) => m.stats);
      const measuredMs = performance.now() - tm;
      const counts = { reads: 0, sets: 0, dels: 0, errors: 0 };
      for (const m of done) for (const k of Object.keys(counts)) counts[k] += m.counts[k];
      const requests = counts.reads + counts.sets + counts.dels;
      const diff = (f) => sumStats(s1, f) - sumStats(s0, f);
      const m = {
        l1Hits: diff((s) => s.l1.hits),
        l2Hits: diff((s) => s.l2.hits),
        l2Misses: diff((s) => s.l2.misses),
        loads: diff((s) => s.loads.calls),
        coalesced: diff((s) => s.loads.coalesced),
        leaseAcquired: diff((s) => s.lease.acquired),
        leaseWaits: diff((s) => s.lease.waits),
        published: diff((s) => s.bus.published),
        messages: d.cmds.publish ?? 0, // every bus message, the lease fills' (published by a script) included
        received: diff((s) => s.bus.received),
        l2Errors: diff((s) => s.l2.errors + s.l2.timeouts + s.l2.skipped),
      };
      const idleUs = (idleUsPerS * measuredMs) / 1000;
      const cpuUs = Math.max(0, d.cpuUs - idleUs);
      const busiest = d.nodes.reduce((a, b) => (b.cpuUs > a.cpuUs ? b : a));
      const rec = {
        topology,
        N,
        l1Max,
        warmPerInstance: CONFIG.warm,
        measuredPerInstance: CONFIG.measured,
        requests,
        counts,
        wallMs: Math.round(wallMs),
        clientCpuUsPerRequest: done.reduce((n, x) => n + x.cpuUs, 0) / requests,
        tiers: { l1: m.l1Hits / counts.reads, l2: m.l2Hits / counts.reads, load: m.loads / counts.reads, fleetWait: m.leaseWaits / counts.reads, coalesced: m.coalesced / counts.reads },
        perRequest: {
          commands: d.commands / requests,
          inBytes: d.inBytes / requests,
          outBytes: d.outBytes / requests,
          cpuUs: cpuUs / requests,
          cpuUsRaw: d.cpuUs / requests,
          busiestNodeCpuUs: Math.max(0, busiest.cpuUs - idleUs / d.nodes.length) / requests,
          messagesPublished: m.messages / requests,
        },
        cmdsPerRequest: Object.fromEntries(Object.entries(d.cmds).map(([k, v]) => [k, v / requests])),
        // Every message reaches the N - 1 other instances; a write publishes one (an invalidation), so
        // does every load's fill (it wakes the instances waiting for that key).
        bus: {
          messages: m.messages,
          writes: counts.sets + counts.dels,
          publishedPerWrite: m.published / (counts.sets + counts.dels),
          receivedPerMessage: m.messages ? m.received / m.messages : null,
          invalidationsReceivedPerWrite: m.messages ? (m.received / m.messages) * (m.published / (counts.sets + counts.dels)) : null,
        },
        raw: m,
        redisNodes: d.nodes.map((n) => ({ port: n.port, cpuUs: n.cpuUs, commands: Object.values(n.cmds).reduce((a, b) => a + b, 0) })),
        idleRedisCpuUsPerS: idleUsPerS,
      };
      runs.push(rec);
      log(
        `${topology} N=${N} l1.max=${l1Max}: ${requests} requests in ${(wallMs / 1000).toFixed(1)} s; L1 ${pct(rec.tiers.l1)} L2 ${pct(rec.tiers.l2)} load ${pct(rec.tiers.load)}; ` +
          `${rec.perRequest.commands.toFixed(2)} cmds/req, ${(rec.perRequest.inBytes + rec.perRequest.outBytes).toFixed(0)} B/req, Redis ${(rec.perRequest.cpuUs * 1000).toFixed(0)} µs/1000 req; ` +
          `bus: ${m.messages} messages (${m.published} from writes), ${m.received} received (${rec.bus.receivedPerMessage?.toFixed(2)} per message)`,
      );
    }
  } finally {
    for (const w of workers) {
      if (w.connected) w.disconnect();
    }
    await sleep(300);
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  }
  return runs;
}
const pct = (x) => `${(x * 100).toFixed(1)}%`;

// ------------------------------------------------------------------------------------------ model
function attachModel(data) {
  const { workload } = data;
  const base = { n: workload.keys, s: workload.s, w: workload.writeShare };
  for (const r of data.runs) {
    const cal = data.calibration[r.topology];
    const shares = predictRun({ ...base, N: r.N, l1Max: r.l1Max, warm: r.warmPerInstance, measured: r.measuredPerInstance });
    // The model with the measured tier shares isolates the cost side; with the predicted ones, both.
    const measuredShares = { l1: r.tiers.l1, l2: r.tiers.l2, miss: Math.max(0, 1 - r.tiers.l1 - r.tiers.l2) };
    r.model = {
      tiers: { l1: shares.l1, l2: shares.l2, load: shares.miss },
      perRequest: perRequest(shares, { w: base.w, N: r.N }, cal),
      perRequestFromMeasuredTiers: perRequest(measuredShares, { w: base.w, N: r.N }, cal),
      characteristicTime: shares.characteristicTime,
    };
  }
  // Redis CPU per request depends on more than the request mix (how many commands each read of a
  // socket brings, how often the server is descheduled on a shared machine): the projections use
  // the calibrated costs scaled by the median measured / model ratio of the measured points.
  const ratios = data.runs.filter((r) => r.topology === 'standalone' && r.model.perRequestFromMeasuredTiers.cpuUs > 0).map((r) => r.perRequest.cpuUs / r.model.perRequestFromMeasuredTiers.cpuUs).sort((a, b) => a - b);
  const cpuFactor = ratios.length ? ratios[ratios.length >> 1] : 1;
  // Steady state, beyond this machine: a long-running fleet, L2 TTL 5 min, L1 TTL 10 s (the
  // library's defaults are ttl 60 s, l1 { max: 10 000, ttl: 10 s }).
  const cal = data.calibration.standalone ?? Object.values(data.calibration)[0];
  const projections = [];
  for (const l1Max of [1_000, 10_000, 100_000]) {
    for (const N of [2, 4, 8, 16, 32, 64, 128]) {
      for (const rate of [1_000, 10_000, 100_000]) {
        const p = { ...base, N, l1Max, rate, l1TtlMs: 10_000, ttlMs: 300_000 };
        const sh = predictSteady(p);
        projections.push({ l1Max, N, rate, tiers: { l1: sh.l1, l2: sh.l2, load: sh.miss }, perRequest: perRequest(sh, { w: base.w, N }, cal) });
      }
    }
  }
  const saturation = [];
  for (const l1Max of [1_000, 10_000, 100_000]) {
    for (const N of [2, 4, 8, 16, 32, 64, 128]) {
      const r = saturationRate({ ...base, N, l1Max, l1TtlMs: 10_000, ttlMs: 300_000 }, cal, 1);
      const fitted = saturationRate({ ...base, N, l1Max, l1TtlMs: 10_000, ttlMs: 300_000 }, cal, cpuFactor);
      saturation.push({ l1Max, N, rate: r.rate, cpuUsPerRequest: r.cpuUsPerRequest, rateFitted: fitted.rate, cpuUsPerRequestFitted: fitted.cpuUsPerRequest });
    }
  }
  data.model = { steady: { l2TtlMs: 300_000, l1TtlMs: 10_000 }, cpuFactor, cpuRatios: ratios, projections, saturation };
}

function merge(data) {
  let old;
  try {
    old = JSON.parse(readFileSync(JSON_PATH, 'utf8'));
  } catch {
    return;
  }
  const id = (r) => `${r.topology}:${r.N}:${r.l1Max}`;
  const fresh = new Set(data.runs.map(id));
  const measured = new Set(Object.keys(data.calibration));
  data.runs = [...old.runs.filter((r) => !fresh.has(id(r))), ...data.runs].sort((a, b) => a.topology.localeCompare(b.topology) * -1 || a.l1Max - b.l1Max || a.N - b.N);
  for (const [t, c] of Object.entries(old.calibration)) if (!measured.has(t)) data.calibration[t] = c;
  for (const [t, c] of Object.entries(old.idle ?? {})) if (!measured.has(t)) data.idle[t] = c;
  data.meta.parts = [...(old.meta.parts ?? [{ date: old.meta.date, seconds: old.meta.seconds, loadAverageAtStart: old.meta.loadAverageAtStart }]), { date: data.meta.date, seconds: data.meta.seconds, loadAverageAtStart: data.meta.loadAverageAtStart }];
  data.meta.redis ??= old.meta.redis;
  data.meta.seconds = data.meta.parts.reduce((n, p) => n + (p.seconds ?? 0), 0);
  data.failures = [...(old.failures ?? []).filter((x) => !data.runs.some((r) => r.topology === x.topology && r.N === x.N)), ...data.failures];
}

// ------------------------------------------------------------------------------------------ main
async function main() {
  const procs = new RedisProcesses();
  process.on('exit', () => procs.killAllSync());
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const started = Date.now();
  const data = {
    meta: {
      date: new Date().toISOString(),
      command: process.env.BENCH_T0 ? 'npm run bench' : 'node bench/capacity.mjs',
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
      quick: QUICK,
    },
    workload: WORKLOAD,
    config: CONFIG,
    calibration: {},
    idle: {},
    runs: [],
    failures: [],
  };
  try {
    const topologies = {};
    if (CONFIG.topologies.includes('standalone')) {
      const port = await procs.server();
      topologies.standalone = { redis: `redis://${HOST}:${port}`, ports: [port] };
      data.meta.redis = /redis_version:(\S+)/.exec(await (await import('./capacity/redis-procs.mjs')).call(port, 'INFO', 'server'))?.[1];
    }
    if (CONFIG.topologies.includes('cluster')) {
      const { ports, primaryPorts } = await procs.cluster({ primaries: CONFIG.clusterPrimaries, replicas: 0 });
      topologies.cluster = { redis: { cluster: ports.map((port) => ({ host: HOST, port })) }, ports: primaryPorts };
    }
    for (const [topology, t] of Object.entries(topologies)) {
      data.idle[topology] = await idleCpuRate(t.ports);
      log(`${topology}: idle Redis CPU ${data.idle[topology].toFixed(0)} µs/s (subtracted from the measured windows)`);
      data.calibration[topology] = await calibrate(t.redis, t.ports, data.idle[topology]);
      for (const N of CONFIG.sizes) {
        try {
          data.runs.push(...(await fleetRun({ topology, redis: t.redis, ports: t.ports, N, idleUsPerS: data.idle[topology] })));
        } catch (err) {
          log(`!! ${topology} N=${N}: ${err.message}`);
          data.failures.push({ topology, N, error: err.message });
        }
      }
    }
  } finally {
    await procs.stop();
  }
  data.meta.seconds = Math.round((Date.now() - started) / 1000);
  if (process.env.CAPACITY_MERGE === '1') merge(data);
  attachModel(data);
  writeFileSync(JSON_PATH, JSON.stringify(data, null, 2) + '\n');
  writeFileSync(MD_PATH, renderCapacityReport(data));
  writeFileSync(DOC_PATH, fillDoc(readFileSync(DOC_PATH, 'utf8'), docTables(data)));
  log(`wrote bench/capacity.json, bench/CAPACITY.md and the tables of docs/capacity.md in ${data.meta.seconds} s (${data.runs.length} runs, ${data.failures.length} failures)`);
}

await main();
process.exit(0);
