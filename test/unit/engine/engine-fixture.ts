import 'reflect-metadata';
import { createCodec } from '../../../lib/codec/serializers.js';
import { CacheEngine } from '../../../lib/engine/cache-engine.js';
import type { TieredCacheModuleOptions } from '../../../lib/interfaces/tiered-cache-options.interface.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';
import type { MemorySharedTier } from '../../../lib/shared/memory-shared-tier.js';
import { TieredCacheService } from '../../../lib/tiered-cache.service.js';

/** Engines a spec opened: `closeEngines()` in `afterEach` closes them (timers, subscriptions). */
const open: CacheEngine[] = [];

/**
 * A real engine over one in-memory tier (an instance of a fleet sharing its broker), or with no
 * shared tier at all (`redis: false`) when `tier` is undefined, and the service over it.
 */
export async function engineOver(
  tier: MemorySharedTier | undefined,
  options: Omit<TieredCacheModuleOptions, 'redis'> = {},
): Promise<{ engine: CacheEngine; cache: TieredCacheService }> {
  // Validated like a Redis setup; nothing connects to the URL: the engine talks to `tier`.
  const resolved = resolveOptions({ keyPrefix: 'p:', ...options, redis: tier ? 'redis://memory.invalid:6379' : false });
  const codec = await createCodec(resolved.serializer, resolved.maxValueBytes);
  const engine = new CacheEngine(resolved, codec, tier);
  await engine.connect();
  open.push(engine);
  return { engine, cache: new TieredCacheService(engine) };
}

export async function closeEngines(): Promise<void> {
  for (const e of open.splice(0)) await e.close();
}

/** Lets every pending promise chain and bus delivery of the in-memory tier run (no timers needed). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A promise and the functions that settle it. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
