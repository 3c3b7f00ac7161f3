import 'reflect-metadata';
import { createCodec } from '../../../../lib/codec/serializers.js';
import { CacheEngine } from '../../../../lib/engine/cache-engine.js';
import type { TieredCacheModuleOptions } from '../../../../lib/interfaces/tiered-cache-options.interface.js';
import { resolveOptions } from '../../../../lib/options/resolve-options.js';
import { MemoryBroker, type MemorySharedTier, type MemorySharedTierOptions } from '../../../../lib/shared/memory-shared-tier.js';
import type { Tracking, TrackingListener } from '../../../../lib/shared/shared-tier.interface.js';
import { TieredCacheService } from '../../../../lib/tiered-cache.service.js';

/** One instance of the app: its engine, its connection to the broker and the service over it. */
export interface Instance {
  engine: CacheEngine;
  tier: MemorySharedTier;
  cache: TieredCacheService;
  /** What Redis would report to this instance (with `tracking`). */
  tracking: TrackingListener | undefined;
}

/**
 * Gives a connection server-assisted tracking: the test plays Redis and calls the listener the
 * engine registers (the in-memory tier has no tracking of its own). Returns where it lands.
 */
export function withTracking(tier: MemorySharedTier): { listener: TrackingListener | undefined } {
  const seen: { listener: TrackingListener | undefined } = { listener: undefined };
  const tracking: Tracking = { status: 'on', refusal: undefined, start: async () => {}, close: async () => {} };
  Object.assign(tier, {
    track(_prefix: string, listener: TrackingListener): Tracking {
      seen.listener = listener;
      return tracking;
    },
  });
  return seen;
}

const open: CacheEngine[] = [];

/** Closes every engine built since the last call (for `afterEach`). */
export async function closeAll(): Promise<void> {
  for (const e of open.splice(0)) await e.close();
}

/**
 * `count` engines over one {@link MemoryBroker}, as `count` app instances over one Redis. The
 * module options are validated as for a Redis setup; nothing leaves the process.
 */
export async function fleet(
  count: number,
  module: Omit<TieredCacheModuleOptions, 'redis'> = {},
  tierOptions: MemorySharedTierOptions & { tracking?: boolean; noBus?: boolean } = {},
): Promise<{ broker: MemoryBroker; instances: Instance[] }> {
  const broker = new MemoryBroker();
  const options = resolveOptions({ redis: 'redis://memory.invalid:6379', keyPrefix: 'app:', ...module });
  const codec = await createCodec(options.serializer, options.maxValueBytes);
  const instances: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const { tracking, noBus, ...rest } = tierOptions;
    const tier = broker.tier({ timeoutMs: 200, ...rest });
    // As a Keyv store: no pub/sub, so no fleet lease and no bus.
    if (noBus) Object.assign(tier, { hasBus: false });
    const tracked = tracking ? withTracking(tier) : undefined;
    const engine = new CacheEngine(options, codec, tier);
    await engine.connect();
    open.push(engine);
    instances.push({ engine, tier, cache: new TieredCacheService(engine), tracking: tracked?.listener });
  }
  return { broker, instances };
}

/**
 * A real engine over one in-memory tier (an instance of a fleet sharing its broker), or with no
 * shared tier at all (`redis: false`) when `tier` is undefined, and the service over it.
 */
export async function engineOver(
  tier: MemorySharedTier | undefined,
  module: Omit<TieredCacheModuleOptions, 'redis'> = {},
): Promise<{ engine: CacheEngine; cache: TieredCacheService }> {
  // Validated like a Redis setup; nothing connects to the URL: the engine talks to `tier`.
  const options = resolveOptions({ keyPrefix: 'p:', ...module, redis: tier ? 'redis://memory.invalid:6379' : false });
  const codec = await createCodec(options.serializer, options.maxValueBytes);
  const engine = new CacheEngine(options, codec, tier);
  await engine.connect();
  open.push(engine);
  return { engine, cache: new TieredCacheService(engine) };
}

/** One engine without a shared tier (`redis: false`). */
export function l1Only(module: Omit<TieredCacheModuleOptions, 'redis'> = {}): Promise<{ engine: CacheEngine; cache: TieredCacheService }> {
  return engineOver(undefined, module);
}

/** Lets queued promise callbacks and zero-delay deliveries run (real macrotasks). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A promise the test settles by hand, for loaders that must still be running at a given moment. */
export function deferred<T = unknown>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A loader that counts its runs; run n resolves to `next(n)` (a value, or a promise the test settles). */
export function counting<T>(next: (run: number) => T | Promise<T>): { loader: () => Promise<T>; runs: () => number } {
  let runs = 0;
  return {
    loader: async () => next(++runs),
    runs: () => runs,
  };
}
