// One instance of the capacity fleet: a Nest application context with TieredCacheModule.forRoot on
// the built library (dist/, or run.sh's snapshot of it) and a service whose reads are @Cacheable
// and whose deletes are @CacheEvict, driven by bench/capacity.mjs over IPC:
//   { cmd: 'open', l1Max, keyPrefix }  -> { ready }     a fresh app (the previous one is closed)
//   { cmd: 'run', requests, phase }    -> { ran, phase, counts, stats } the Zipf workload
//   { cmd: 'stats' }                   -> { stats }      cache.stats() now
//   { cmd: 'close' }                   -> { closed }
// Each request: 95% reads (findOne(id) through @Cacheable), 5% writes drawn from the same keys, half
// cache.set(key, value), half update(id) through @CacheEvict; `concurrency` requests in flight.
import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { __decorate, __metadata, makeValue } from '../lib/common.mjs';
import { cumulative, draw, prng, zipfProbabilities } from './zipf.mjs';

const cfg = JSON.parse(process.argv[2]);
const DIST = process.env.BENCH_OURS_DIST || fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const { TieredCacheModule, TieredCacheService, Cacheable, CacheEvict } = await import(DIST);
const { NestFactory } = await import('@nestjs/core');
const { Module, Injectable } = await import('@nestjs/common');

const cdf = cumulative(zipfProbabilities(cfg.keys, cfg.s));
const rnd = prng(cfg.seed);
const TTL = 3_600_000;
// Counts what Redis does, so no read may turn into a skipped one: on two shared cores with 32
// processes a 250 ms default timeout can run out and the breaker would then skip Redis.
const CACHE_OPTIONS = { l2Timeout: 2_000, breaker: false };

let Items = class Items {
  async findOne(id) {
    return makeValue(id);
  }
  async update(id) {
    return { id };
  }
};
for (const [name, deco] of [
  ['findOne', Cacheable({ key: (id) => `item:${id}`, ttl: TTL })],
  ['update', CacheEvict({ key: (id) => `item:${id}` })],
]) {
  __decorate([deco, __metadata('design:type', Function), __metadata('design:paramtypes', [Number]), __metadata('design:returntype', Promise)], Items.prototype, name, null);
}
Items = __decorate([Injectable()], Items);

let app;
let items;
let cache;

async function open({ l1Max, keyPrefix }) {
  // redis: a URL (the library owns its connections, with its defaults) or { cluster: startupNodes }.
  const redis = typeof cfg.redis === 'string' ? cfg.redis : { cluster: cfg.redis.cluster };
  let AppModule = class AppModule {};
  AppModule = __decorate(
    [Module({ imports: [TieredCacheModule.forRoot({ redis, keyPrefix, ttl: TTL, l1: { max: l1Max, ttl: TTL }, serializer: 'json', ...CACHE_OPTIONS })], providers: [Items] })],
    AppModule,
  );
  app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  items = app.get(Items);
  cache = app.get(TieredCacheService);
}

async function run(requests, concurrency, writeShare) {
  const counts = { reads: 0, sets: 0, dels: 0, errors: 0 };
  let left = requests;
  const lane = async () => {
    while (left > 0) {
      left--;
      const u = rnd();
      const id = draw(cdf, rnd());
      try {
        if (u >= writeShare) {
          counts.reads++;
          await items.findOne(id);
        } else if (u < writeShare / 2) {
          counts.sets++;
          await cache.set(`item:${id}`, makeValue(id), { ttl: TTL });
        } else {
          counts.dels++;
          await items.update(id);
        }
      } catch {
        counts.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return counts;
}

process.on('message', async (m) => {
  if (m.cmd === 'open') {
    if (app) await app.close();
    await open(m);
    process.send({ ready: true });
  } else if (m.cmd === 'run') {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const counts = await run(m.requests, m.concurrency, m.writeShare);
    const cpu = process.cpuUsage(cpu0);
    process.send({ ran: true, phase: m.phase, counts, ms: performance.now() - t0, cpuUs: cpu.user + cpu.system, stats: cache.stats() });
  } else if (m.cmd === 'stats') {
    process.send({ stats: cache.stats() });
  } else if (m.cmd === 'close') {
    if (app) await app.close();
    app = undefined;
    process.send({ closed: true });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ up: true });
