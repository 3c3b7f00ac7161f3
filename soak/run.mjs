#!/usr/bin/env node
// Chaos soak (issue 6): three instances of the sample app on one Redis under HTTP load while a chaos
// loop SIGSTOPs, SIGKILLs (and restarts) redis-server and kills the pub/sub clients.
//
//   npm run soak                         # builds, runs 60 s, writes bench/SOAK.md
//   SOAK_SECONDS=14 node soak/run.mjs    # after a build: the short version test/soak runs
//
// Measures: failed requests (non-2xx, errors, timeouts), reads older than an acknowledged write by
// more than the staleness bound (l1.ttl + a delivery allowance), loader calls per key per TTL,
// latency overall and while a fault is under way. Exits 1 when a goal is missed, 2 when the soak
// itself could not run. See soak/README.md for the method.
//
// Settings (environment, all optional):
//   SOAK_SECONDS            load duration, default 60
//   SOAK_READ_CONNECTIONS   read connections per instance (closed loop), default 4
//   SOAK_HOT_WRITERS        products written every 0.25-0.75 s (products 1..n), default 3
//   SOAK_COLD_WRITERS       products written every 3-12 s (the next n products), default 5
//   SOAK_FAULT_GAP_MS       calm time between faults, "min-max", default 2000-4000
//   SOAK_L1_TTL_MS          the sample's L1 TTL (its L1_TTL_MS), default 5000
//   SOAK_DB_LATENCY_MS      the sample's DB_LATENCY_MS, default 100
//   SOAK_ALLOWANCE_MS       delivery allowance added to l1.ttl for the staleness bound, default 500
//   SOAK_SEED               seed of the read mix, the writers' and the faults' timing, default 1
//   SOAK_REPORT             Markdown report, default bench/SOAK.md ('-': none)
//   SOAK_JSON               also write the figures as JSON to this path
//   SOAK_KEEP=1             keep the temp dir (logs, DB file) even when every goal is met
//   SOAK_TRACE              write every read, write acknowledgement, response and fault (JSON) here

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'build/sample-app/src/main.js');

// ---------------------------------------------------------------------------------------------
// Settings

const env = process.env;
const int = (name, fallback) => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail(`${name} must be a non-negative number, got "${raw}"`);
  return n;
};
const S = {
  seconds: int('SOAK_SECONDS', 60),
  instances: 3,
  readConnections: int('SOAK_READ_CONNECTIONS', 4),
  hotWriters: int('SOAK_HOT_WRITERS', 3),
  coldWriters: int('SOAK_COLD_WRITERS', 5),
  hotPauseMs: [250, 750],
  coldPauseMs: [3_000, 12_000],
  requestTimeoutMs: 10_000,
  faultGap: (env.SOAK_FAULT_GAP_MS ?? '2000-4000').split('-').map(Number),
  l1TtlMs: int('SOAK_L1_TTL_MS', 5_000),
  dbLatencyMs: int('SOAK_DB_LATENCY_MS', 100),
  allowanceMs: int('SOAK_ALLOWANCE_MS', 500),
  seed: int('SOAK_SEED', 1),
  report: env.SOAK_REPORT ?? join(ROOT, 'bench/SOAK.md'),
  json: env.SOAK_JSON,
  keep: env.SOAK_KEEP === '1',
  trace: env.SOAK_TRACE,
  // The sample's cache settings that the soak does not change (sample-app/src/app.module.ts,
  // products.service.ts) and the library defaults it relies on (README, options table).
  productTtlMs: 60_000,
  listTtlMs: 30_000,
  l2TimeoutMs: 250,
  leaseTtlMs: 2_000,
  breaker: '5 failures, open 1 s',
  // A request overlapping [fault start, fault end + this] is counted "during a fault": ioredis
  // reconnects with a back-off of at most 2 s, the bus re-subscribes with it.
  recoveryMs: 2_000,
  products: 20,
  // Traffic mix of the reads: the list, the written products, the read-only ones.
  listShare: 0.05,
  writtenShare: 0.5,
  stopMs: [1_000, 2_000],
  killDownMs: 1_000,
};
S.writers = S.hotWriters + S.coldWriters;
S.boundMs = S.l1TtlMs + S.allowanceMs;
S.latencyGoalMs = S.l2TimeoutMs + S.dbLatencyMs;
if (S.writers > S.products) fail('SOAK_HOT_WRITERS + SOAK_COLD_WRITERS must be at most 20');
if (!(S.faultGap[0] >= 0 && S.faultGap[1] >= S.faultGap[0])) fail('SOAK_FAULT_GAP_MS must be "min-max"');

/** Versions written to a product start above every seeded stock, so a version is never a seed. */
const VERSION_BASE = 1_000;

// Seeded PRNGs (mulberry32), one stream per consumer: with the same seed the fault schedule and
// each writer's schedule are the same whatever the number of reads.
function prng(seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.between = ([min, max]) => min + next() * (max - min);
  return next;
}
const streams = (name) => prng(S.seed * 7919 + [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 17));

// ---------------------------------------------------------------------------------------------
// Processes: everything started here is stopped by PID, also on Ctrl-C or a crash.

const children = new Set();
let tmp;

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAllNow() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAllNow();
    process.exit(130);
  });
}

function fail(message) {
  console.error(`soak: ${message}`);
  process.exit(2);
}

async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** One RESP command on a fresh connection; resolves with the raw one-line reply. */
function redisCommand(port, args, timeoutMs = 1_000) {
  return new Promise((res, rej) => {
    const socket = new Socket();
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.once('error', rej);
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.once('close', () => res(reply.trim()));
    socket.connect(port, '127.0.0.1', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  });
}

class RedisProcess {
  child;
  starts = 0;
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
  }
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start() {
    const log = openSync(join(this.dir, 'redis.log'), 'a');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    await new Promise((res, rej) => {
      child.once('error', (err) => rej(new Error(`cannot start redis-server (${err.message}); apt-get install redis-server`)));
      child.once('spawn', res);
    });
    this.child = track(child);
    this.starts++;
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        if ((await redisCommand(this.port, ['PING'])) === '+PONG') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING`);
      await sleep(10);
    }
  }
  signal(sig) {
    process.kill(this.child.pid, sig);
  }
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((res) => child.once('exit', res));
    try {
      process.kill(child.pid, 'SIGCONT');
    } catch {
      // gone
    }
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

class AppProcess {
  constructor(index, port, dir) {
    this.index = index;
    this.port = port;
    this.log = join(dir, `app-${index}.log`);
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  start(redisUrl, dbFile) {
    const log = openSync(this.log, 'a');
    this.child = track(
      spawn(process.execPath, ['--enable-source-maps', MAIN], {
        cwd: ROOT,
        stdio: ['ignore', log, log],
        env: {
          ...process.env,
          NO_COLOR: '1',
          PORT: String(this.port),
          HOST: '127.0.0.1',
          HTTP_ADAPTER: 'fastify',
          REDIS_URL: redisUrl,
          DB_FILE: dbFile,
          DB_LATENCY_MS: String(S.dbLatencyMs),
          L1_TTL_MS: String(S.l1TtlMs),
        },
      }),
    );
    closeSync(log);
  }
  async ready() {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`instance ${this.index} exited (${this.child.exitCode}); see ${this.log}`);
      try {
        if ((await fetch(`${this.url}/health`)).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`instance ${this.index} not ready after 60 s; see ${this.log}`);
      await sleep(100);
    }
  }
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  async metrics() {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const samples = new Map();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return samples;
  }
}

// ---------------------------------------------------------------------------------------------
// What the load observed

const t0 = { at: 0 };
/** Per written product: acknowledged writes [version, ack time], in version order. */
const acks = new Map();
/** Reads that returned a product: product, version, start time, instance. */
const reads = { p: [], v: [], start: [], inst: [], list: [] };
/** Every response: end time, latency, read or write, instance, product (0: the list). */
const responses = { end: [], ms: [], write: [], inst: [], p: [] };

function recordResponse(end, ms, write, inst, p) {
  responses.end.push(end);
  responses.ms.push(ms);
  responses.write.push(write);
  responses.inst.push(inst);
  responses.p.push(p);
}
const writeMismatches = [];
/** 200 responses whose body is not the product (or list) asked for: counted as failed requests. */
const badBodies = [];

function stockOf(row) {
  if (!Number.isInteger(row.stock)) throw new Error(`no stock in ${JSON.stringify(row)}`);
  return row.stock;
}
const writeFailures = [];
const faults = [];

function recordRead(p, v, start, inst, list) {
  reads.p.push(p);
  reads.v.push(v);
  reads.start.push(start);
  reads.inst.push(inst);
  reads.list.push(list);
}

function readRequests(inst) {
  const rng = streams(`reads-${inst}`);
  const written = S.writers;
  const readOnly = S.products - written;
  return [
    {
      method: 'GET',
      setupRequest(req, ctx) {
        const r = rng();
        if (r < S.listShare) {
          ctx.p = 0;
          req.path = '/products';
        } else {
          const p =
            (r < S.listShare + S.writtenShare && written > 0) || readOnly === 0 ? 1 + Math.floor(rng() * written) : written + 1 + Math.floor(rng() * readOnly);
          ctx.p = p;
          req.path = `/products/${p}`;
        }
        ctx.start = Date.now();
        return req;
      },
      onResponse(status, body, ctx) {
        recordResponse(Date.now(), Date.now() - ctx.start, false, inst, ctx.p);
        if (status !== 200) return;
        try {
          if (ctx.p === 0) {
            const rows = JSON.parse(body);
            if (rows.length !== S.products) throw new Error(`${rows.length} products`);
            for (const row of rows) if (row.id <= written) recordRead(row.id, stockOf(row), ctx.start, inst, true);
          } else {
            const row = JSON.parse(body);
            if (row.id !== ctx.p) throw new Error(`product ${row.id}`);
            if (ctx.p <= written) recordRead(ctx.p, stockOf(row), ctx.start, inst, false);
          }
        } catch (err) {
          badBodies.push({ instance: inst, path: ctx.p === 0 ? '/products' : `/products/${ctx.p}`, error: err.message });
        }
      },
    },
  ];
}

/**
 * One writer per product: sequential PATCHes with increasing versions (the version is the stock),
 * so the truth is unambiguous. Write k of product p goes through instance (p + k) mod 3.
 */
async function writer(p, apps, pause, until) {
  const list = [];
  acks.set(p, list);
  const rng = streams(`writer-${p}`);
  let version = VERSION_BASE;
  for (let k = 0; ; k++) {
    await sleep(Math.min(rng.between(pause), until - Date.now()));
    if (Date.now() >= until) return;
    const v = ++version;
    const app = apps[(p + k) % apps.length];
    const start = Date.now();
    let outcome;
    try {
      const res = await fetch(`${app.url}/products/${p}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ stock: v }),
        signal: AbortSignal.timeout(S.requestTimeoutMs),
      });
      const body = await res.text();
      if (res.status === 200) {
        const at = Date.now();
        const stock = JSON.parse(body).stock;
        if (stock !== v) writeMismatches.push({ p, sent: v, got: stock });
        list.push([v, at]);
      } else {
        outcome = `HTTP ${res.status}`;
      }
    } catch (err) {
      outcome = err.name === 'TimeoutError' ? 'timeout' : `error ${err.message}`;
    }
    const end = Date.now();
    recordResponse(end, end - start, true, app.index, p);
    if (outcome !== undefined) writeFailures.push({ product: p, version: v, instance: app.index, atS: +((start - t0.at) / 1000).toFixed(3), outcome });
  }
}

/** Closed-loop reads with autocannon; latencies are taken in `onResponse` (with the instance and path). */
function runLoad(name, opts) {
  return new Promise((res, rej) => {
    autocannon({ timeout: S.requestTimeoutMs / 1000, duration: S.seconds, pipelining: 1, ...opts }, (err, result) => (err ? rej(err) : res({ name, result })));
  });
}

// ---------------------------------------------------------------------------------------------
// Chaos: one fault at a time, a calm gap between faults.

async function chaos(redis, until) {
  // A kill empties Redis; it comes last so that what a SIGSTOP left behind in Redis is seen.
  const kinds = ['stop', 'pubsub', 'kill'];
  const rng = streams('faults');
  for (let i = 0; ; i++) {
    const gap = rng.between(S.faultGap);
    if (Date.now() + gap >= until) return;
    await sleep(gap);
    const kind = kinds[i % kinds.length];
    const f = { kind, start: Date.now() };
    if (kind === 'stop') {
      redis.signal('SIGSTOP');
      await sleep(rng.between(S.stopMs));
      redis.signal('SIGCONT');
    } else if (kind === 'kill') {
      await redis.kill();
      await sleep(S.killDownMs);
      await redis.start();
    } else {
      f.reply = await redisCommand(redis.port, ['CLIENT', 'KILL', 'TYPE', 'pubsub']).catch((e) => `error ${e.message}`);
    }
    f.end = Date.now();
    faults.push(f);
  }
}

// ---------------------------------------------------------------------------------------------
// Analysis

function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** Reads that took at least `limit` ms, among those `filter` keeps. */
function latencySlowerThan(limit, filter) {
  let n = 0;
  for (let i = 0; i < responses.ms.length; i++) {
    if (!responses.write[i] && responses.ms[i] >= limit && filter(responses.end[i] - responses.ms[i], responses.end[i])) n++;
  }
  return n;
}

function latencyFigures(filter) {
  const reads = [];
  const writes = [];
  for (let i = 0; i < responses.ms.length; i++) {
    if (!filter(responses.end[i] - responses.ms[i], responses.end[i])) continue;
    (responses.write[i] ? writes : reads).push(responses.ms[i]);
  }
  const fig = (a) => {
    a.sort((x, y) => x - y);
    return { n: a.length, p50: percentile(a, 0.5), p99: percentile(a, 0.99), p999: percentile(a, 0.999), max: a.length ? a[a.length - 1] : NaN };
  };
  return { reads: fig(reads), writes: fig(writes) };
}

const inFault = (kinds) => (start, end) => faults.some((f) => kinds.includes(f.kind) && start <= f.end + S.recoveryMs && end >= f.start);

/** Ack time of the first acknowledged version newer than `v` (undefined when none). */
function firstNewerAck(list, v) {
  let lo = 0;
  let hi = list.length - 1;
  let found;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid][0] > v) {
      found = list[mid][1];
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return found;
}

function staleness() {
  let stale = 0;
  let violations = 0;
  let maxAge = 0;
  const ages = { '<=100ms': 0, '<=1s': 0, '<=l1ttl': 0, '<=bound': 0, '>bound': 0 };
  const episodes = new Map();
  for (let i = 0; i < reads.p.length; i++) {
    const list = acks.get(reads.p[i]);
    const v = reads.v[i];
    const start = reads.start[i];
    const newer = firstNewerAck(list, v);
    if (newer === undefined || newer >= start) continue; // nothing newer was acknowledged yet
    stale++;
    const age = start - newer;
    maxAge = Math.max(maxAge, age);
    ages[age <= 100 ? '<=100ms' : age <= 1_000 ? '<=1s' : age <= S.l1TtlMs ? '<=l1ttl' : age <= S.boundMs ? '<=bound' : '>bound']++;
    // Versions are acknowledged in order, so the first newer one is the oldest acknowledgement the
    // read missed: the read violates the bound when that is more than the bound before it.
    if (age > S.boundMs) {
      violations++;
      // One line per product, instance, source (item or list) and version served.
      const id = `${reads.p[i]}/${reads.inst[i]}/${reads.list[i]}/${v}`;
      const at = +((start - t0.at) / 1000).toFixed(2);
      const e = episodes.get(id);
      if (e === undefined) {
        episodes.set(id, {
          product: reads.p[i],
          instance: reads.inst[i],
          source: reads.list[i] ? 'GET /products' : 'GET /products/:id',
          returned: v,
          newerAckedAtS: +((newer - t0.at) / 1000).toFixed(2),
          fromS: at,
          toS: at,
          reads: 1,
          maxAgeMs: age,
        });
      } else {
        e.toS = at;
        e.reads++;
        e.maxAgeMs = Math.max(e.maxAgeMs, age);
      }
    }
  }
  return { checked: reads.p.length, stale, violations, maxAgeMs: maxAge, ages, episodes: [...episodes.values()] };
}

function sumMetric(all, name) {
  return all.reduce((s, m) => s + (m.get(name) ?? 0), 0);
}

function countLines(file, re) {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => re.test(l)).length;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// The run

async function main() {
  if (!existsSync(MAIN) || !existsSync(join(ROOT, 'dist/index.js'))) {
    fail('build the library and the sample first: npm run build && npx tsc -p tsconfig.app.json (npm run soak does both)');
  }
  tmp = mkdtempSync(join(tmpdir(), 'tiered-cache-soak-'));
  const dbFile = join(tmp, 'products.json');
  const redis = new RedisProcess(await freePort(), tmp);
  await redis.start();
  const apps = [];
  for (let i = 0; i < S.instances; i++) apps.push(new AppProcess(i, await freePort(), tmp));
  for (const app of apps) app.start(redis.url, dbFile);
  await Promise.all(apps.map((a) => a.ready()));
  // Warm-up, not measured: every product and the list read once through each instance (the first
  // loads them, the others read Redis), so that the figures are about the soak, not a cold start.
  for (const app of apps) {
    const paths = ['/products', ...Array.from({ length: S.products }, (_, i) => `/products/${i + 1}`)];
    await Promise.all(
      paths.map(async (path) => {
        const res = await fetch(`${app.url}${path}`);
        if (res.status !== 200) throw new Error(`warm-up: GET ${path} on instance ${app.index}: ${res.status}`);
        await res.arrayBuffer();
      }),
    );
  }
  const before = await Promise.all(apps.map((a) => a.metrics()));
  const load0 = loadavg()[0];

  t0.at = Date.now();
  const until = t0.at + S.seconds * 1_000;
  const loads = [];
  apps.forEach((app, i) => {
    if (S.readConnections > 0) loads.push(runLoad(`read-${i}`, { url: app.url, connections: S.readConnections, requests: readRequests(i) }));
  });
  const writers = [];
  for (let p = 1; p <= S.writers; p++) writers.push(writer(p, apps, p <= S.hotWriters ? S.hotPauseMs : S.coldPauseMs, until));
  const chaosDone = chaos(redis, until - 1_000);
  const results = await Promise.all(loads);
  await Promise.all(writers);
  await chaosDone;
  const elapsedS = (Date.now() - t0.at) / 1000;
  const load1 = loadavg()[0];

  // Let background writes and the last invalidations settle, then read the counters and the DB.
  await sleep(500);
  const after = await Promise.all(apps.map((a) => a.metrics()));
  const db = JSON.parse(readFileSync(dbFile, 'utf8'));
  await Promise.all(apps.map((a) => a.stop()));
  await redis.kill();

  // --- figures
  // Autocannon counts timeouts among its errors.
  const readFailures = results.reduce((n, { result: r }) => n + r.errors + r.non2xx + r.mismatches, 0) + badBodies.length;
  const readStatus = results.reduce((acc, { result }) => {
    for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) acc[code] = (acc[code] ?? 0) + count;
    return acc;
  }, {});
  const writes = responses.write.filter(Boolean).length;
  const requests = { reads: responses.write.length - writes, writes };
  if (S.trace) {
    writeFileSync(S.trace, JSON.stringify({ t0: t0.at, faults, acks: Object.fromEntries(acks), reads, responses }));
  }
  const failed = {
    reads: readFailures,
    writes: writeFailures.length,
    readTimeouts: results.reduce((s, r) => s + r.result.timeouts, 0),
    readStatusCodes: readStatus,
    badBodies: badBodies.slice(0, 20),
    writeFailures: writeFailures.slice(0, 20),
  };
  failed.total = failed.reads + failed.writes;

  const delta = (name) => sumMetric(after, name) - sumMetric(before, name);
  const perInstance = apps.map((_, i) => {
    const d = (name) => (after[i].get(name) ?? 0) - (before[i].get(name) ?? 0);
    return {
      loaderCalls: d('tiered_cache_loader_calls_total'),
      dbFindById: d('sample_db_queries_total{query="findById"}'),
      dbFindAll: d('sample_db_queries_total{query="findAll"}'),
      l1Hits: d('tiered_cache_hits_total{tier="l1"}'),
      l2Hits: d('tiered_cache_hits_total{tier="l2"}'),
      l2Timeouts: d('tiered_cache_l2_timeouts_total'),
      l2Errors: d('tiered_cache_l2_errors_total'),
      l2Skipped: d('tiered_cache_l2_skipped_total'),
      leaseAcquired: d('tiered_cache_lease_acquired_total'),
      leaseWaits: d('tiered_cache_lease_waits_total'),
      leaseTimeouts: d('tiered_cache_lease_timeouts_total'),
      discarded: d('tiered_cache_loader_results_discarded_total'),
      busGaps: d('tiered_cache_bus_gaps_total'),
      busPublishFailures: d('tiered_cache_bus_publish_failures_total'),
      breakerOpened: countLines(apps[i].log, /circuit breaker open/),
    };
  });
  const ackCount = [...acks.values()].reduce((s, l) => s + l.length, 0);
  const kills = faults.filter((f) => f.kind === 'kill').length;
  const windows = elapsedS / (S.productTtlMs / 1000);
  const findById = delta('sample_db_queries_total{query="findById"}');
  const findAll = delta('sample_db_queries_total{query="findAll"}');
  // A lower bound on product loads (the caches are warm when the load starts) with perfect
  // stampede protection: one after every write that evicted the key, and one per key after every
  // Redis SIGKILL emptied L2.
  const floor = ackCount + kills * S.products;
  const loaderCalls = {
    total: delta('tiered_cache_loader_calls_total'),
    findById,
    findAll,
    ttlWindows: +windows.toFixed(3),
    perKeyPerTtl: +(findById / (S.products * windows)).toFixed(2),
    listPerTtl: +(findAll / (elapsedS / (S.listTtlMs / 1000))).toFixed(2),
    floor,
    withoutLease: delta('tiered_cache_loader_calls_total') - delta('tiered_cache_lease_acquired_total'),
    excessPerKeyPerTtl: +(Math.max(0, findById - floor) / (S.products * windows)).toFixed(2),
  };

  const latency = {
    overall: latencyFigures(() => true),
    faults: latencyFigures(inFault(['stop', 'kill', 'pubsub'])),
    calm: latencyFigures((s, e) => !inFault(['stop', 'kill', 'pubsub'])(s, e)),
    stop: latencyFigures(inFault(['stop'])),
    kill: latencyFigures(inFault(['kill'])),
    pubsub: latencyFigures(inFault(['pubsub'])),
  };

  const stale = staleness();
  const lostUpdates = [];
  for (const [p, list] of acks) {
    const last = list.at(-1)?.[0] ?? -Infinity;
    const row = db.find((r) => r.id === p);
    if (!row || row.stock < last) lostUpdates.push({ product: p, lastAcked: last, inDb: row?.stock });
  }

  const slowFaultReads = latencySlowerThan(S.latencyGoalMs, inFault(['stop', 'kill', 'pubsub']));
  const goals = {
    failedRequests: { value: failed.total, goal: '0', met: failed.total === 0 },
    staleReads: { value: stale.violations, goal: '0', met: stale.violations === 0 },
    p99ReadsDuringFaults: {
      value: latency.faults.reads.p99,
      goal: `< ${S.latencyGoalMs} ms`,
      met: !(latency.faults.reads.p99 >= S.latencyGoalMs),
    },
  };
  const met = Object.values(goals).every((g) => g.met) && lostUpdates.length === 0 && writeMismatches.length === 0;

  const summary = {
    date: new Date(t0.at).toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadAvg: [load0, load1].map((x) => +x.toFixed(2)),
    command: commandLine(),
    git: gitState(),
    settings: S,
    elapsedS: +elapsedS.toFixed(1),
    redisPort: redis.port,
    redisStarts: redis.starts,
    faults: faults.map((f) => ({ kind: f.kind, atS: +((f.start - t0.at) / 1000).toFixed(2), ms: f.end - f.start, ...(f.reply ? { reply: f.reply } : {}) })),
    requests,
    failed,
    loaderCalls,
    latency,
    stale,
    acknowledgedWrites: ackCount,
    writeMismatches,
    lostUpdates,
    perInstance,
    slowFaultReads,
    goals,
    met,
    tmp,
  };
  return summary;
}

function gitState() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'sample-app'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in lib/ or sample-app/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function commandLine() {
  const set = Object.keys(env).filter((k) => k.startsWith('SOAK_') && !['SOAK_REPORT', 'SOAK_JSON', 'SOAK_KEEP'].includes(k));
  const prefix = set.map((k) => `${k}=${env[k]}`).join(' ');
  const cmd = env.npm_lifecycle_event === 'soak' ? 'npm run soak' : `node ${relative(process.cwd(), fileURLToPath(import.meta.url)) || 'soak/run.mjs'}`;
  return prefix ? `${prefix} ${cmd}` : cmd;
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (x) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '–');

/** One line per run, kept across runs in the report's History section (newest first, 20 kept). */
function historyRow(r) {
  const g = r.goals;
  return `| ${r.date.slice(0, 16).replace('T', ' ')} | ${r.settings.seed} | ${r.elapsedS} s | ${r.faults.length} | ${r.requests.reads + r.requests.writes} | ${g.failedRequests.value} | ${g.staleReads.value} | ${ms(r.stale.maxAgeMs)} | ${ms(r.latency.faults.reads.p99)} / ${ms(r.latency.faults.reads.max)} | ${r.loaderCalls.perKeyPerTtl} | ${r.met ? 'met' : '**missed**'} | ${r.git} |`;
}

function previousHistory(file) {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf('\n## History');
  if (at < 0) return [];
  return text
    .slice(at)
    .split('\n')
    .filter((l) => /^\| \d{4}-/.test(l));
}

function markdown(r, history) {
  const S = r.settings;
  const yes = (g) => (g.met ? 'met' : '**missed**');
  const faultCount = (k) => r.faults.filter((f) => f.kind === k).length;
  const lat = (name, l) =>
    `| ${name} | ${l.reads.n} | ${ms(l.reads.p50)} | ${ms(l.reads.p99)} | ${ms(l.reads.p999)} | ${ms(l.reads.max)} | ${l.writes.n} | ${ms(l.writes.p50)} | ${ms(l.writes.p99)} | ${ms(l.writes.max)} |`;
  const inst = r.perInstance;
  const row = (label, key) => `| ${label} | ${inst.map((x) => x[key]).join(' | ')} |`;
  return `# Chaos soak

Issue 6. Three instances of the sample app (Fastify) share one \`redis-server\` and one database
file, under HTTP load from autocannon, while a chaos loop hits Redis every few seconds.
Method, settings and how to read the figures: [\`soak/README.md\`](../soak/README.md).

- **Date**: ${r.date}
- **Command**: \`${r.command}\`
- **Code**: ${r.git}
- **Machine**: Node ${r.node}, ${r.cpus} cores (${r.cpuModel}), load average ${r.loadAvg[0]} at start, ${r.loadAvg[1]} at end
- **Duration**: ${r.elapsedS} s of load; ${r.faults.length} faults: ${faultCount('stop')} SIGSTOP/SIGCONT, ${faultCount('kill')} SIGKILL + restart, ${faultCount('pubsub')} \`CLIENT KILL TYPE pubsub\` (redis-server started ${r.redisStarts} times)
- **Result**: ${r.met ? 'every goal met' : '**goals missed**'}

## Goals

| Goal | Result | Target | |
|---|---|---|---|
| Failed requests (non-2xx, errors, timeouts) | ${r.failed.total} of ${r.requests.reads + r.requests.writes} | 0 | ${yes(r.goals.failedRequests)} |
| Reads older than an acknowledged write by more than ${S.boundMs} ms | ${r.stale.violations} of ${r.stale.checked} checked | 0 | ${yes(r.goals.staleReads)} |
| p99 of reads during faults | ${ms(r.latency.faults.reads.p99)} (p99.9 ${ms(r.latency.faults.reads.p999)}, max ${ms(r.latency.faults.reads.max)}; ${r.slowFaultReads} of ${r.latency.faults.reads.n} reads ≥ ${S.latencyGoalMs} ms) | < ${S.latencyGoalMs} ms (l2Timeout ${S.l2TimeoutMs} + loader ${S.dbLatencyMs}) | ${yes(r.goals.p99ReadsDuringFaults)} |
| Loader calls per product key per TTL (${S.productTtlMs / 1000} s) | ${r.loaderCalls.perKeyPerTtl} (${r.loaderCalls.excessPerKeyPerTtl} above the floor) | reported | |

## Settings

| | |
|---|---|
| Instances | ${S.instances} × sample app, Fastify, key prefix \`sample:\`, one JSON database file |
| Sample cache | product TTL ${S.productTtlMs / 1000} s, list TTL ${S.listTtlMs / 1000} s, **L1 TTL ${S.l1TtlMs / 1000} s** (\`L1_TTL_MS\`), grace 0, library defaults otherwise (l2Timeout ${S.l2TimeoutMs} ms, leaseTtl ${S.leaseTtlMs / 1000} s, breaker ${S.breaker}) |
| Database | ${S.dbLatencyMs} ms per query (\`DB_LATENCY_MS\`) |
| Reads | ${S.readConnections} connections per instance, closed loop; ${S.listShare * 100}% \`GET /products\`, ${S.writtenShare * 100}% \`GET /products/:id\` of the ${S.writers} written products, the rest of the ${S.products - S.writers} read-only ones |
| Writes | one writer per product, sequential \`PATCH {stock: version}\` with increasing versions, through the instances in turn: products 1–${S.hotWriters} every ${S.hotPauseMs[0] / 1000}–${S.hotPauseMs[1] / 1000} s (hot), products ${S.hotWriters + 1}–${S.writers} every ${S.coldPauseMs[0] / 1000}–${S.coldPauseMs[1] / 1000} s (cold) |
| Faults | a calm gap of ${S.faultGap[0] / 1000}–${S.faultGap[1] / 1000} s, then in turn: SIGSTOP for ${S.stopMs[0] / 1000}–${S.stopMs[1] / 1000} s then SIGCONT; \`CLIENT KILL TYPE pubsub\`; SIGKILL, ${S.killDownMs / 1000} s down, restart on the same port (empty: no persistence) |
| Staleness bound | l1.ttl ${S.l1TtlMs} ms + ${S.allowanceMs} ms delivery allowance = **${S.boundMs} ms** |
| "During a fault" | a request overlapping [fault start, fault end + ${S.recoveryMs / 1000} s] (ioredis reconnect back-off ≤ 2 s) |
| Seed | ${S.seed} |

## Requests

| | Reads | Writes |
|---|---|---|
| Completed | ${r.requests.reads} | ${r.requests.writes} |
| Failed | ${r.failed.reads} | ${r.failed.writes} |

Read timeouts (${S.requestTimeoutMs / 1000} s): ${r.failed.readTimeouts}. Read status codes: ${Object.entries(r.failed.readStatusCodes)
    .map(([c, n]) => `${c} × ${n}`)
    .join(', ')}.
${r.failed.badBodies.length ? `200 responses that were not the product asked for: ${r.failed.badBodies.map((b) => `${b.path} on #${b.instance}: ${b.error}`).join('; ')}.` : ''}
${r.failed.writeFailures.length ? `Failed writes: ${r.failed.writeFailures.map((w) => `product ${w.product} v${w.version} via #${w.instance} at ${w.atS} s: ${w.outcome}`).join('; ')}.` : ''}
Acknowledged writes: ${r.acknowledgedWrites}; responses that did not echo the written version: ${r.writeMismatches.length};
products whose final database row is older than their last acknowledged write (lost updates): ${r.lostUpdates.length}.

## Latency

| Window | Reads | p50 | p99 | p99.9 | max | Writes | p50 | p99 | max |
|---|---|---|---|---|---|---|---|---|---|
${lat('Whole run', r.latency.overall)}
${lat('During any fault', r.latency.faults)}
${lat('Calm', r.latency.calm)}
${lat('SIGSTOP', r.latency.stop)}
${lat('SIGKILL + restart', r.latency.kill)}
${lat('CLIENT KILL pubsub', r.latency.pubsub)}

## Staleness

${r.stale.checked} product versions read (products 1–${S.writers}, alone or in the list). ${r.stale.stale} were older
than a write already acknowledged when the read started; by how long after that acknowledgement:
≤ 100 ms: ${r.stale.ages['<=100ms']}, ≤ 1 s: ${r.stale.ages['<=1s']}, ≤ l1.ttl (${S.l1TtlMs} ms): ${r.stale.ages['<=l1ttl']},
≤ ${S.boundMs} ms: ${r.stale.ages['<=bound']}, beyond the bound: ${r.stale.ages['>bound']}. Oldest: ${ms(r.stale.maxAgeMs)}.
${r.stale.episodes.length ? `\nReads beyond the bound, by product, instance, endpoint and version served (times from the start of the load):\n\n| Product | Instance | Endpoint | Served | Newer version acked at | Reads | From | To | Oldest |\n|---|---|---|---|---|---|---|---|---|\n${r.stale.episodes.map((e) => `| ${e.product} | #${e.instance} | \`${e.source}\` | ${e.returned} | ${e.newerAckedAtS} s | ${e.reads} | ${e.fromS} s | ${e.toS} s | ${ms(e.maxAgeMs)} |`).join('\n')}\n` : ''}
## Loader calls

Product loads (\`sample_db_queries_total{query="findById"}\`, all instances, after the warm-up): ${r.loaderCalls.findById} in ${r.loaderCalls.ttlWindows} TTL windows of ${S.productTtlMs / 1000} s for ${S.products} keys
= **${r.loaderCalls.perKeyPerTtl} per key per TTL**. Floor with perfect stampede protection: ${r.loaderCalls.floor}
(one per acknowledged write, + ${S.products} per Redis SIGKILL) → ${r.loaderCalls.excessPerKeyPerTtl} per key per TTL above it.
Loader calls made without the fleet lease (Redis away or circuit breaker open, so each instance loads for itself): ${r.loaderCalls.withoutLease} of ${r.loaderCalls.total}.
List loads (\`findAll\`): ${r.loaderCalls.findAll} = ${r.loaderCalls.listPerTtl} per ${S.listTtlMs / 1000} s TTL (every write evicts the list).
All loader calls (\`tiered_cache_loader_calls_total\`): ${r.loaderCalls.total}.

## Per instance (counter deltas over the run)

| | ${inst.map((_, i) => `#${i}`).join(' | ')} |
|---|${inst.map(() => '---').join('|')}|
${row('Loader calls', 'loaderCalls')}
${row('DB findById', 'dbFindById')}
${row('DB findAll', 'dbFindAll')}
${row('L1 hits', 'l1Hits')}
${row('L2 hits', 'l2Hits')}
${row('L2 timeouts', 'l2Timeouts')}
${row('L2 errors', 'l2Errors')}
${row('L2 skipped (not connected / breaker open)', 'l2Skipped')}
${row('Leases acquired', 'leaseAcquired')}
${row('Lease waits', 'leaseWaits')}
${row('Lease wait timeouts', 'leaseTimeouts')}
${row('Bus gaps (L1 dropped)', 'busGaps')}
${row('Bus publish failures', 'busPublishFailures')}
${row('Circuit breaker opened (log lines)', 'breakerOpened')}

## Faults

${r.faults.map((f) => `${f.atS} s ${f.kind} (${f.ms} ms)${f.reply ? ` → ${f.reply}` : ''}`).join('; ')}

## History

Every run that wrote this file, newest first (the sections above are the newest run).

| Date (UTC) | Seed | Load | Faults | Requests | Failed | Stale beyond bound | Oldest stale read | Reads during faults p99 / max | Loads/key/TTL | Goals | Code |
|---|---|---|---|---|---|---|---|---|---|---|---|
${history.join('\n')}
`;
}

// ---------------------------------------------------------------------------------------------

let summary;
try {
  summary = await main();
} catch (err) {
  console.error(`soak: ${err.stack ?? err}`);
  if (tmp) console.error(`soak: logs kept in ${tmp}`);
  killAllNow();
  process.exit(2);
}

if (summary.settings.report !== '-') {
  const history = [historyRow(summary), ...previousHistory(summary.settings.report)].slice(0, 20);
  writeFileSync(summary.settings.report, markdown(summary, history));
}
if (summary.settings.json) writeFileSync(summary.settings.json, `${JSON.stringify(summary, null, 2)}\n`);
const keep = summary.settings.keep || !summary.met;
if (!keep) rmSync(tmp, { recursive: true, force: true });
const g = summary.goals;
console.log(
  `soak: ${summary.elapsedS} s, ${summary.faults.length} faults; ${summary.requests.reads + summary.requests.writes} requests, ` +
    `${g.failedRequests.value} failed; ${g.staleReads.value} reads stale beyond ${summary.settings.boundMs} ms ` +
    `(oldest stale read ${ms(summary.stale.maxAgeMs)}); ${summary.loaderCalls.perKeyPerTtl} loader calls/key/TTL; ` +
    `p99 reads during faults ${ms(g.p99ReadsDuringFaults.value)} (goal ${g.p99ReadsDuringFaults.goal}): ` +
    `${summary.met ? 'goals met' : 'GOALS MISSED'}` +
    `${summary.settings.report !== '-' ? `; report ${relative(process.cwd(), summary.settings.report)}` : ''}` +
    `${keep ? `; logs in ${tmp}` : ''}`,
);
process.exit(summary.met ? 0 : 1);
