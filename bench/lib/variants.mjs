// Every library variant the scenarios measure, behind one small interface:
//   const v = await createVariant(name, { loader, prefix, instrument })
//   await v.fetch(id, key)   // get-or-set: key is `item:${id}`; decorated variants derive it from id
//   v.client                 // the ioredis instance that carries the commands (when instrument: true)
//   await v.close()
// `loader(id)` is the scenario's loader (the method body for decorated variants).
// Peer configurations follow /work/shared/research/peers.md (same versions, options and pitfalls).
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REDIS_URL, TTL_MS, redisHostPort, __decorate, __metadata } from './common.mjs';

// run.sh snapshots the fresh build (dist/) into bench/.runs/dist, so a rebuild by someone else during
// the run (npm test starts with `rm -rf dist`) cannot pull the library away mid-run.
export const OURS_DIST = process.env.BENCH_OURS_DIST || fileURLToPath(new URL('../../dist/index.js', import.meta.url));
export const oursAvailable = () => existsSync(OURS_DIST);

// name -> { library label, kind, l1 mode, make(opts) }
// kind: 'ours' | 'peer' | 'reference'
export const VARIANTS = {};
const def = (name, kind, make, extra = {}) => (VARIANTS[name] = { name, kind, make, ...extra });

// ------------------------------------------------------------------ ours
async function makeOurs({ loader, prefix = 'bench:', instrument = false, l1 = 'on', api = 'decorator', lock, l1Max, ttl = TTL_MS, redis = 'url', tracking }) {
  const { NestFactory } = await import('@nestjs/core');
  const { Module, Injectable } = await import('@nestjs/common');
  const lib = await import(OURS_DIST);
  const { TieredCacheModule, TieredCacheService, Cacheable } = lib;

  let client = null;
  let redisOpt;
  if (redis === false) redisOpt = false;
  else if (instrument) redisOpt = client = new Redis(REDIS_URL); // user-passed instance: we close it
  else if (redis === 'ap-client') redisOpt = client = new Redis(REDIS_URL, { enableAutoPipelining: true });
  else redisOpt = REDIS_URL; // the documented default: a URL, the library owns the connection

  const l1Opt = l1 === 'off' ? false : { max: l1 === 'tiny' ? 1 : (l1Max ?? 50_000), ttl };

  let Items = class Items {
    async find(id) {
      return loader(id);
    }
  };
  const cacheableOpts = { key: (id) => `item:${id}`, ttl };
  if (lock !== undefined) cacheableOpts.lock = lock;
  __decorate(
    [
      Cacheable(cacheableOpts),
      __metadata('design:type', Function),
      __metadata('design:paramtypes', [Number]),
      __metadata('design:returntype', Promise),
    ],
    Items.prototype,
    'find',
    null,
  );
  Items = __decorate([Injectable()], Items);

  let AppModule = class AppModule {};
  AppModule = __decorate(
    [
      Module({
        imports: [
          TieredCacheModule.forRoot({ redis: redisOpt, keyPrefix: prefix, ttl, l1: l1Opt, serializer: 'json', ...(tracking === undefined ? {} : { tracking }) }),
        ],
        providers: [Items],
      }),
    ],
    AppModule,
  );
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
  const items = app.get(Items);
  const cache = app.get(TieredCacheService);
  const gsOpts = { ttl };
  if (lock !== undefined) gsOpts.lock = lock;
  const fetch = api === 'decorator' ? (id) => items.find(id) : (id, key) => cache.getOrSet(key, () => loader(id), gsOpts);
  return {
    fetch,
    client,
    cache,
    app,
    set: (key, value) => cache.set(key, value, { ttl }),
    async close() {
      await app.close();
      if (client) await client.quit().catch(() => {});
    },
  };
}

const T = 'nestjs-tiered-cache';
def(`${T}:decorator`, 'ours', (o) => makeOurs({ ...o, api: 'decorator' }));
def(`${T}:getOrSet`, 'ours', (o) => makeOurs({ ...o, api: 'getOrSet' }));
def(`${T}:decorator [L1 off]`, 'ours', (o) => makeOurs({ ...o, api: 'decorator', l1: 'off' }));
def(`${T}:getOrSet [L1 off]`, 'ours', (o) => makeOurs({ ...o, api: 'getOrSet', l1: 'off' }));
def(`${T}:getOrSet [L1 max 1]`, 'ours', (o) => makeOurs({ ...o, api: 'getOrSet', l1: 'tiny' }));
def(`${T}:getOrSet [L1 off, user client with autopipelining]`, 'ours', (o) =>
  makeOurs({ ...o, api: 'getOrSet', l1: 'off', redis: o.instrument ? 'url' : 'ap-client' }),
);
// The fleet lease is on by default (`lock: true`); these turn it off per decorator / per call.
def(`${T}:decorator [lock:false]`, 'ours', (o) => makeOurs({ ...o, api: 'decorator', lock: false }));
def(`${T}:getOrSet [lock:false]`, 'ours', (o) => makeOurs({ ...o, api: 'getOrSet', lock: false }));
// Without Redis-assisted invalidation (on by default): like the peers, which keep no L1 copies
// of other instances in step, the only difference left is the lease (scenario 3's like-for-like).
def(`${T}:getOrSet [tracking:false]`, 'ours', (o) => makeOurs({ ...o, api: 'getOrSet', tracking: false }));

// ------------------------------------------------------------------ bentocache 1.6.1
async function makeBento({ loader, instrument = false, l1 = 'on', serialize = true, autopipelining = false, prefix = 'bench' }) {
  const { BentoCache, bentostore } = await import('bentocache');
  const { memoryDriver } = await import('bentocache/drivers/memory');
  const { redisDriver } = await import('bentocache/drivers/redis');
  let client = null;
  let connection;
  if (instrument) connection = client = new Redis(REDIS_URL);
  else connection = { ...redisHostPort(), ...(autopipelining ? { enableAutoPipelining: true } : {}) };
  let store = bentostore();
  // N6: maxItems defaults to 1000; raised to 50 000 (or 1 for the "L1 always misses" variant).
  if (l1 !== 'off') store = store.useL1Layer(memoryDriver({ maxItems: l1 === 'tiny' ? 1 : 50_000, serialize }));
  store = store.useL2Layer(redisDriver({ connection }));
  const bento = new BentoCache({ default: 'c', prefix: prefix.replace(/:$/, ''), stores: { c: store } });
  return {
    fetch: (id, key) => bento.getOrSet({ key, factory: () => loader(id), ttl: TTL_MS }),
    client,
    async close() {
      await bento.disconnect().catch(() => {});
      if (client) await client.quit().catch(() => {});
    },
  };
}
def('bentocache:getOrSet', 'peer', (o) => makeBento(o));
def('bentocache:getOrSet [L1 serialize:false]', 'peer', (o) => makeBento({ ...o, serialize: false }));
def('bentocache:getOrSet [L2 only]', 'peer', (o) => makeBento({ ...o, l1: 'off' }));
def('bentocache:getOrSet [L2 only, autopipelining]', 'peer', (o) => makeBento({ ...o, l1: 'off', autopipelining: true }));
def('bentocache:getOrSet [L1 maxItems 1]', 'peer', (o) => makeBento({ ...o, l1: 'tiny' }));

// ------------------------------------------------------------------ cache-manager 7 + cacheable memory + @keyv/redis
async function keyvRedis() {
  const { Keyv } = await import('keyv');
  const KeyvRedis = (await import('@keyv/redis')).default;
  return new Keyv({ store: new KeyvRedis(REDIS_URL) });
}
async function makeCacheManager({ loader, l1 = 'docs' }) {
  const { createCache } = await import('cache-manager');
  const { Keyv } = await import('keyv');
  const { CacheableMemory, createKeyv } = await import('cacheable');
  const l2 = await keyvRedis();
  let stores;
  if (l1 === 'off') stores = [l2];
  // README tiered example: Keyv (JSON-serialized) over CacheableMemory.
  else if (l1 === 'docs') stores = [new Keyv({ store: new CacheableMemory({ ttl: TTL_MS, lruSize: 50_000 }) }), l2];
  else if (l1 === 'noclone') stores = [createKeyv({ ttl: TTL_MS, lruSize: 50_000, useClone: false }), l2];
  else if (l1 === 'tiny') stores = [new Keyv({ store: new CacheableMemory({ ttl: TTL_MS, lruSize: 1 }) }), l2];
  const cache = createCache({ stores });
  return {
    fetch: (id, key) => cache.wrap(key, () => loader(id), TTL_MS),
    client: null,
    async close() {
      await cache.disconnect().catch(() => {});
    },
  };
}
def('cache-manager:wrap', 'peer', (o) => makeCacheManager({ ...o, l1: 'docs' }));
def('cache-manager:wrap [L1 useClone:false]', 'peer', (o) => makeCacheManager({ ...o, l1: 'noclone' }));
def('cache-manager:wrap [L2 only]', 'peer', (o) => makeCacheManager({ ...o, l1: 'off' }));

// ------------------------------------------------------------------ cacheable 2 (own L1/L2)
async function makeCacheable({ loader, l1 = 'default' }) {
  const { Cacheable, createKeyv } = await import('cacheable');
  const l2 = await keyvRedis();
  let c;
  if (l1 === 'off') c = new Cacheable({ primary: l2 });
  else if (l1 === 'default') c = new Cacheable({ secondary: l2 }); // primary: CacheableMemory, useClone:true
  else if (l1 === 'noclone') c = new Cacheable({ primary: createKeyv({ useClone: false }), secondary: l2 });
  return {
    fetch: (id, key) => c.getOrSet(key, () => loader(id), { ttl: TTL_MS }),
    client: null,
    async close() {
      await c.disconnect().catch(() => {});
    },
  };
}
def('cacheable:getOrSet', 'peer', (o) => makeCacheable({ ...o, l1: 'default' }));
def('cacheable:getOrSet [useClone:false]', 'peer', (o) => makeCacheable({ ...o, l1: 'noclone' }));
def('cacheable:getOrSet [L2 only]', 'peer', (o) => makeCacheable({ ...o, l1: 'off' }));

// ------------------------------------------------------------------ @type-cacheable (single tier, N9)
async function makeTypeCacheable({ loader, instrument = false, backend = 'ioredis' }) {
  const core = await import('@type-cacheable/core');
  const TCacheable = core.Cacheable ?? core.default.Cacheable;
  let client = null;
  let adapter;
  if (backend === 'ioredis') {
    const m = await import('@type-cacheable/ioredis-adapter');
    client = new Redis(REDIS_URL, instrument ? {} : { enableAutoPipelining: true });
    adapter = (m.useAdapter ?? m.default.useAdapter)(client);
  } else {
    const m = await import('@type-cacheable/lru-cache-adapter');
    adapter = (m.useAdapter ?? m.default.useAdapter)(new LRUCache({ max: 50_000 }));
  }
  const Svc = class Svc {
    async find(id) {
      return loader(id);
    }
  };
  __decorate(
    [
      TCacheable({ client: adapter, cacheKey: (args) => `item:${args[0]}`, ttlSeconds: TTL_MS / 1000 }),
      __metadata('design:type', Function),
      __metadata('design:paramtypes', [Number]),
      __metadata('design:returntype', Promise),
    ],
    Svc.prototype,
    'find',
    null,
  );
  const svc = new Svc();
  return {
    fetch: (id) => svc.find(id),
    client: instrument ? client : null,
    async close() {
      if (client) await client.quit().catch(() => {});
    },
  };
}
def('@type-cacheable:decorator [ioredis]', 'peer', (o) => makeTypeCacheable({ ...o, backend: 'ioredis' }));
def('@type-cacheable:decorator [lru-cache]', 'peer', (o) => makeTypeCacheable({ ...o, backend: 'lru' }));

// ------------------------------------------------------------------ references (not tiered caches)
def('lru-cache:fetch', 'reference', async ({ loader }) => {
  const lru = new LRUCache({ max: 50_000, ttl: TTL_MS, fetchMethod: (_k, _stale, { context }) => context() });
  return { fetch: (id, key) => lru.fetch(key, { context: () => loader(id) }), client: null, async close() {} };
});

export async function createVariant(name, opts) {
  const v = VARIANTS[name];
  if (!v) throw new Error(`unknown variant ${name}`);
  return v.make(opts);
}

// Count commands an ioredis client sends (non-auto-pipelined clients only: sendCommand is where
// each command passes). Records name, send time and reply time (performance.now()).
export function instrumentClient(client) {
  const log = [];
  const orig = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    const rec = { name: String(command.name).toLowerCase(), t0: performance.now(), t1: Infinity };
    log.push(rec);
    const r = orig(command, stream);
    command.promise.then(
      () => (rec.t1 = performance.now()),
      () => (rec.t1 = performance.now()),
    );
    return r;
  };
  return log;
}
