// Scenario 8: server-assisted invalidation (issue 14, `tracking`), on one Redis.
//   external:  a plain ioredis client (not the library) DELs a key two instances (processes) hold in L1;
//              each notes when its L1 copy is deleted; delivery = until it is gone on *every* instance.
//   library:   instance A deletes a key through the library; B notes when its copy is deleted; once per
//              configuration (bus only, tracking + bus, tracking only).
//   cost:      a writer process sets 20 000 distinct keys (100 in flight) while two receiver processes
//              listen; CPU per write (writer, each receiver, redis-server), messages each receiver gets per
//              write, PUBLISH commands per write; each configuration 3 times, alternating; medians.
// usage: node s8-tracking.mjs <redisUrl>   → prints one JSON line per measurement, prefixed '@@R '.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
const { TieredCacheModule, TieredCacheService } = await import(process.env.BENCH_OURS_DIST ?? new URL('../../dist/index.js', import.meta.url).href);

const here = fileURLToPath(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const emit = (r) => console.log('@@R ' + JSON.stringify(r));
const now = () => performance.timeOrigin + performance.now();
const cpuMs = (u) => (u.user + u.system) / 1000;
const samples = () => Number(process.env.BENCH_QUICK === '1' ? 50 : 200);

const CONFIGS = {
  'bus only (tracking: false)': { tracking: false, bus: true },
  'tracking + bus (default)': { tracking: true, bus: true },
  'tracking only (bus: false)': { tracking: true, bus: false },
};

async function cacheApp(url, keyPrefix, extra = {}) {
  const app = await NestFactory.createApplicationContext(
    TieredCacheModule.forRoot({ redis: url, keyPrefix, ttl: 3_600_000, l1: { max: 50_000, ttl: 3_600_000 }, ...extra }),
    { logger: false },
  );
  return { app, cache: app.get(TieredCacheService) };
}

/** The engine behind a TieredCacheService (a symbol-keyed slot; benchmark instrumentation only). */
function engineOf(cache) {
  const slot = Object.getOwnPropertySymbols(cache).find((s) => s.description === 'nestjs-tiered-cache:engine');
  return cache[slot];
}

/** Reads `key` until the read is an L1 hit (a copy made before the news of the write that stored it is dropped by that news). */
async function holdInL1(cache, key) {
  for (;;) {
    const hits = cache.stats().l1.hits;
    await cache.get(key);
    if (cache.stats().l1.hits > hits) return;
    await sleep(1);
  }
}

// ----- child role: one instance --------------------------------------------------------------------
const [role, url, ...args] = process.argv.slice(2);
if (role === 'instance') {
  const [keyPrefix, config] = args;
  const { app, cache } = await cacheApp(url, keyPrefix, CONFIGS[config]);
  process.once('disconnect', () => process.exit(0));
  process.send({ ready: true });
  process.on('message', async ({ cmd, key }) => {
    if (cmd === 'warm') {
      await holdInL1(cache, key);
      process.send({ warmed: true });
    } else if (cmd === 'watch') {
      // The moment the L1 copy goes, from inside the instance: no busy polling competing for the CPU
      // with Redis and the other instances (the engine's L1 is reached through its symbol-keyed slot).
      const l1 = engineOf(cache).l1;
      const del = l1.delete;
      l1.delete = function (k) {
        del.call(this, k);
        if (k !== key) return;
        l1.delete = del;
        process.send({ seenAt: now() });
      };
    } else if (cmd === 'usage') {
      const s = cache.stats();
      process.send({ cpu: cpuMs(process.cpuUsage()), bus: s.bus.received, tracking: s.tracking.messages, trackedKeys: s.tracking.keys });
    } else if (cmd === 'write') {
      const [from, n] = key;
      const c0 = cpuMs(process.cpuUsage());
      for (let i = from; i < from + n; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, from + n - i) }, (_, j) => cache.set(`w${i + j}`, { i: i + j })));
      }
      process.send({ cpu: cpuMs(process.cpuUsage()) - c0 });
    } else if (cmd === 'exit') {
      await app.close();
      process.exit(0);
    }
  });
} else {
  await main(role);
}

function child(url, keyPrefix, config) {
  const c = fork(here, ['instance', url, keyPrefix, config], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((r) => c.once('message', r));
  const ask = (m) => {
    const reply = new Promise((r) => c.once('message', r));
    c.send(m);
    return reply;
  };
  return { c, ready, ask };
}

async function redisCpu(admin) {
  const info = await admin.info('cpu');
  return 1000 * (Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_user:([\d.]+)/.exec(info)[1]));
}

async function publishes(admin) {
  const m = /cmdstat_publish:calls=(\d+)/.exec(await admin.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

async function external(url) {
  const keyPrefix = `bench:s8:external:${Date.now()}:`;
  // The writer of the 'old' entries: no L1, no tracking, no bus (it only puts bytes in Redis).
  const { app, cache } = await cacheApp(url, keyPrefix, { l1: false, tracking: false, bus: false });
  const raw = new Redis(url);
  const kids = [child(url, keyPrefix, 'tracking + bus (default)'), child(url, keyPrefix, 'tracking + bus (default)')];
  await Promise.all(kids.map((k) => k.ready));
  const every = [];
  const each = [];
  for (let i = 0; i < samples(); i++) {
    const key = `x${i}`;
    await cache.set(key, 'old');
    await Promise.all(kids.map((k) => k.ask({ cmd: 'warm', key })));
    const seen = kids.map((k) => {
      const p = new Promise((r) => k.c.once('message', r));
      k.c.send({ cmd: 'watch', key });
      return p;
    });
    await sleep(5);
    const t0 = now();
    await raw.del(`${keyPrefix}{${key}}`);
    const at = (await Promise.all(seen)).map((m) => m.seenAt - t0);
    every.push(Math.max(...at));
    each.push(...at);
  }
  for (const k of kids) k.c.send({ cmd: 'exit' });
  emit({ scenario: 'tracking-external', instances: kids.length, samples: every.length, p50Ms: pct(every, 50), p99Ms: pct(every, 99), perInstanceP50Ms: pct(each, 50), perInstanceP99Ms: pct(each, 99) });
  await raw.quit();
  await app.close();
}

async function library(url, config) {
  const keyPrefix = `bench:s8:library:${Date.now()}:`;
  const { app, cache } = await cacheApp(url, keyPrefix, CONFIGS[config]);
  const b = child(url, keyPrefix, config);
  await b.ready;
  const lat = [];
  for (let i = 0; i < samples(); i++) {
    const key = `k${i}`;
    await cache.set(key, 'old');
    await b.ask({ cmd: 'warm', key });
    const seen = new Promise((r) => b.c.once('message', r));
    b.c.send({ cmd: 'watch', key });
    await sleep(5);
    const t0 = now();
    await cache.del(key);
    lat.push((await seen).seenAt - t0);
  }
  b.c.send({ cmd: 'exit' });
  emit({ scenario: 'tracking-library', config, samples: lat.length, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) });
  await app.close();
}

async function cost(url, config) {
  const keyPrefix = `bench:s8:cost:${Date.now()}:`;
  const admin = new Redis(url);
  const writer = child(url, keyPrefix, config);
  const receivers = [child(url, keyPrefix, config), child(url, keyPrefix, config)];
  await Promise.all([writer, ...receivers].map((k) => k.ready));
  const n = process.env.BENCH_QUICK === '1' ? 5_000 : 20_000;
  // Warm-up (JIT), not counted.
  await writer.ask({ cmd: 'write', key: [1_000_000, 2_000] });
  await sleep(300);
  const before = await Promise.all(receivers.map((r) => r.ask({ cmd: 'usage' })));
  const redisBefore = await redisCpu(admin);
  const pubBefore = await publishes(admin);
  const { cpu: writerCpu } = await writer.ask({ cmd: 'write', key: [0, n] });
  await sleep(500); // messages drain
  const after = await Promise.all(receivers.map((r) => r.ask({ cmd: 'usage' })));
  const redisMs = (await redisCpu(admin)) - redisBefore;
  const pubs = (await publishes(admin)) - pubBefore;
  const per = (f) => after.map((a, i) => (f(a) - f(before[i])) / n);
  const record = {
    scenario: 'tracking-cost',
    config,
    writes: n,
    writerCpuUsPerWrite: (writerCpu * 1000) / n,
    receiverCpuUsPerWrite: per((u) => u.cpu * 1000).reduce((a, b) => a + b) / receivers.length,
    redisCpuUsPerWrite: (redisMs * 1000) / n,
    busMessagesPerWrite: per((u) => u.bus)[0],
    trackingMessagesPerWrite: per((u) => u.tracking)[0],
    trackedKeysPerWrite: per((u) => u.trackedKeys)[0],
    publishesPerWrite: pubs / n,
  };
  for (const k of [writer, ...receivers]) k.c.send({ cmd: 'exit' });
  await admin.quit();
  return record;
}

/** Each configuration `rounds` times, alternating (a busy machine slows them alike); the median of each figure. */
async function costs(url, rounds) {
  const runs = Object.fromEntries(Object.keys(CONFIGS).map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) for (const config of Object.keys(CONFIGS)) runs[config].push(await cost(url, config));
  for (const [config, records] of Object.entries(runs)) {
    const median = { ...records[0], rounds };
    for (const [field, v] of Object.entries(records[0])) if (typeof v === 'number' && field !== 'writes') median[field] = pct(records.map((x) => x[field]), 50);
    emit({ ...median, config });
  }
}

async function main(url) {
  const only = process.env.S8_ONLY;
  if (!only || only === 'external') await external(url);
  if (!only || only === 'library') for (const config of Object.keys(CONFIGS)) await library(url, config);
  if (!only || only === 'cost') await costs(url, process.env.BENCH_QUICK === '1' ? 1 : 3);
  process.exit(0);
}
