// Scenario 7: what issues 3 and 4 ask of the fleet, on one Redis.
//   stampede: 4 processes x 250 callers on one cold key, 50 ms loader: loader calls, the waiters' added
//             latency over the loader's own duration (p50/p99), Redis commands per waiter (INFO commandstats);
//             once with a 50 ms loader and once with a 500 ms one, to show commands per waiter do not grow
//             with the wait.
//   delivery: invalidation delivery across instances (two processes): A evicts, B polls its L1 until the old
//             value is gone; p50/p99 over 200 evictions.
//   tag-hit:  L1 hit cost of a tagged entry vs an untagged one (same process, alternating windows).
// usage: [S7_ONLY=stampede|delivery|tags|bulk] [S7_PROCS=4] node s7-fleet.mjs <redisUrl>   → prints one JSON line per measurement, prefixed '@@R '.
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

async function cacheApp(url, keyPrefix, extra = {}) {
  const app = await NestFactory.createApplicationContext(
    TieredCacheModule.forRoot({ redis: url, keyPrefix, ttl: 3_600_000, l1: { max: 50_000, ttl: 3_600_000 }, ...extra }),
    { logger: false },
  );
  return { app, cache: app.get(TieredCacheService) };
}

// ----- child roles -------------------------------------------------------------------------------
const [role, url, ...args] = process.argv.slice(2);

if (role === 'stampede-child') {
  const [keyPrefix, callers, loaderMs] = args;
  const { app, cache } = await cacheApp(url, keyPrefix);
  const counter = new Redis(url);
  // Warm the miss, lease and wake-up paths (cold JIT would otherwise land in the first stampede).
  for (let i = 0; i < 50; i++) {
    await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet(`warm:${process.pid}:${i}`, async () => ({ w: i }))));
  }
  process.send({ ready: true });
  process.once('message', async ({ key, at }) => {
    await sleep(Math.max(0, at - Date.now()));
    const lat = [];
    let loadMs = null;
    await Promise.all(
      Array.from({ length: Number(callers) }, async () => {
        const t0 = performance.now();
        await cache.getOrSet(key, async () => {
          // The loader's own duration is its whole body, the count it keeps included.
          const l0 = performance.now();
          await counter.incr(`${keyPrefix}count`);
          await sleep(Number(loaderMs));
          loadMs = performance.now() - l0;
          return { v: 1 };
        });
        lat.push(performance.now() - t0);
      }),
    );
    process.send({ lat, loadMs, waits: cache.stats().lease.waits });
    // Shut down only when every process is done: a holder closing its app while the others are
    // being woken would take their CPU (and Redis') and be measured as their wait.
    process.once('message', async () => {
      await counter.quit();
      await app.close();
      process.exit(0);
    });
  });
} else if (role === 'delivery-child') {
  const [keyPrefix] = args;
  const { app, cache } = await cacheApp(url, keyPrefix);
  process.send({ ready: true });
  process.on('message', async ({ key, cmd }) => {
    if (cmd === 'warm') {
      await cache.set(key, 'old');
      process.send({ warmed: true });
    } else if (cmd === 'watch') {
      // Spin on L1 until the eviction from the other process lands; report when (epoch ms, same clock).
      while ((await cache.get(key)) === 'old') await new Promise((r) => setImmediate(r));
      process.send({ seenAt: performance.timeOrigin + performance.now() });
    } else if (cmd === 'exit') {
      await app.close();
      process.exit(0);
    }
  });
} else {
  await main(role);
}

function child(kind, url, args) {
  const c = fork(here, [kind, url, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((r) => c.once('message', r));
  return { c, ready };
}

async function commands(admin) {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) if (m[1] !== 'info') total += Number(m[2]);
  return total;
}

async function stampede(url, loaderMs) {
  const admin = new Redis(url);
  const keyPrefix = `bench:s7:${loaderMs}:${Date.now()}:`;
  // S7_PROCS: processes in the stampede (default 4), each with 250 callers.
  const procs = Number(process.env.S7_PROCS ?? 4);
  const callers = 250;
  const kids = Array.from({ length: procs }, () => child('stampede-child', url, [keyPrefix, String(callers), String(loaderMs)]));
  await Promise.all(kids.map((k) => k.ready));
  const before = await commands(admin);
  const at = Date.now() + 300;
  const results = kids.map((k) => new Promise((r) => k.c.once('message', r)));
  for (const k of kids) k.c.send({ key: 'cold', at });
  const out = await Promise.all(results);
  await sleep(200); // background writes land
  const after = await commands(admin);
  await Promise.all(kids.map((k) => new Promise((r) => (k.c.once('exit', r), k.c.send({ exit: true })))));
  const loads = Number(await admin.get(`${keyPrefix}count`));
  const lat = out.flatMap((o) => o.lat);
  const loadMs = out.map((o) => o.loadMs).find((x) => x !== null) ?? loaderMs;
  const waiters = out.reduce((n, o) => n + (o.waits > 0 ? 1 : 0), 0);
  // Commands by everyone minus the loader's own INCR; per waiting instance (each waits once: one flight per process).
  const cmds = after - before - loads;
  emit({
    scenario: 'fleet-stampede',
    library: `nestjs-tiered-cache:getOrSet [${loaderMs} ms loader${procs === 4 ? '' : `, ${procs} processes`}]`,
    loaderCalls: loads,
    callers: lat.length,
    p50AddedMs: Math.max(0, pct(lat, 50) - loadMs),
    p99AddedMs: Math.max(0, pct(lat, 99) - loadMs),
    loaderMs: loadMs,
    redisCommands: cmds,
    waitingInstances: waiters,
    commandsPerWaitingInstance: waiters ? (cmds - 6) / waiters : null,
  });
  await admin.quit();
}

async function delivery(url) {
  const keyPrefix = `bench:s7:delivery:${Date.now()}:`;
  const { app, cache } = await cacheApp(url, keyPrefix);
  const b = child('delivery-child', url, [keyPrefix]);
  await b.ready;
  const samples = [];
  const n = Number(process.env.BENCH_QUICK === '1' ? 50 : 200);
  for (let i = 0; i < n; i++) {
    const key = `k${i}`;
    b.c.send({ key, cmd: 'warm' });
    await new Promise((r) => b.c.once('message', r));
    const seen = new Promise((r) => b.c.once('message', r));
    b.c.send({ key, cmd: 'watch' });
    await sleep(5);
    const t0 = performance.timeOrigin + performance.now();
    await cache.del(key);
    const { seenAt } = await seen;
    samples.push(seenAt - t0);
  }
  b.c.send({ cmd: 'exit' });
  emit({ scenario: 'invalidation-delivery', library: 'nestjs-tiered-cache', samples: n, p50Ms: pct(samples, 50), p99Ms: pct(samples, 99) });
  await app.close();
}

async function tagHit(url) {
  const { app, cache } = await cacheApp(url, `bench:s7:tags:${Date.now()}:`);
  const N = 10_000;
  for (let i = 0; i < N; i++) {
    await cache.getOrSet(`u${i}`, async () => ({ i }));
    await cache.getOrSet(`t${i}`, async () => ({ i }), { tags: ['catalog', `shelf:${i % 10}`] });
  }
  const order = Array.from({ length: N }, (_, i) => (i * 7919) % N);
  const window = async (prefix) => {
    let ops = 0;
    const end = performance.now() + 100;
    while (performance.now() < end) {
      for (let j = 0; j < 1_000; j++) await cache.getOrSet(prefix + order[(ops + j) % N], loaderNever);
      ops += 1_000;
    }
    return ops / 0.1;
  };
  const loaderNever = async () => {
    throw new Error('should hit L1');
  };
  const measure = async (label) => {
    const ratios = [];
    for (let w = 0; w < 20; w++) {
      const u = await window('u');
      const t = await window('t');
      ratios.push(t / u);
    }
    emit({ scenario: 'tag-check', library: `nestjs-tiered-cache:getOrSet [2 tags${label}]`, ratioToUntagged: pct(ratios, 50), windows: ratios.length });
  };
  await measure('');
  // An invalidation of another tag after the entries were cached: each hit now looks its tags up.
  await cache.invalidateTags(['unrelated']);
  await measure(', after an unrelated tag invalidation'
  );
  await app.close();
}

async function bulk(url) {
  // getMany of 100 keys (L1 off: all from Redis) against 100 awaited single gets.
  const { app, cache } = await cacheApp(url, `bench:s7:bulk:${Date.now()}:`, { l1: false });
  const keys = Array.from({ length: 100 }, (_, i) => `b${i}`);
  await cache.setMany(keys.map((key, i) => ({ key, value: { i, pad: 'x'.repeat(1_000) } })));
  const time = async (fn, rounds) => {
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await fn();
    return (performance.now() - t0) / rounds;
  };
  const many = () => cache.getMany(keys);
  const singles = async () => {
    for (const k of keys) await cache.get(k);
  };
  await time(many, 20);
  await time(singles, 5);
  const ratios = [];
  let manyMs = 0;
  let singlesMs = 0;
  for (let w = 0; w < 10; w++) {
    const m = await time(many, 20);
    const s1 = await time(singles, 5);
    ratios.push(s1 / m);
    manyMs = m;
    singlesMs = s1;
  }
  emit({ scenario: 'bulk', library: 'nestjs-tiered-cache:getMany(100) vs 100 awaited get()', speedup: pct(ratios, 50), getManyMs: manyMs, singlesMs });
  await app.close();
}

async function main(url) {
  const only = process.env.S7_ONLY;
  if (!only || only === 'stampede') {
    await stampede(url, 50);
    await stampede(url, 500);
  }
  if (!only || only === 'delivery') await delivery(url);
  if (!only || only === 'tags') await tagHit(url);
  if (!only || only === 'bulk') await bulk(url);
  process.exit(0);
}
