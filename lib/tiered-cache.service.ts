import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { CacheEngine } from './engine/cache-engine.js';
import type { CacheStatsSnapshot } from './interfaces/cache-stats.interface.js';
import type { CacheEntryInfo, GetOrSetOptions, SetOptions } from './interfaces/cache-operation-options.interface.js';
import { assertKey } from './keys/cache-key.util.js';
import { callPolicy } from './options/entry-policy.js';
import { ENGINE } from './tiered-cache.constants.js';

/**
 * The cache of one application: the same entries the decorators use (a decorator's key and a key
 * given here name the same entry). Durations are milliseconds. Redis trouble never makes these
 * methods throw: reads then miss, writes are kept in L1.
 * @publicApi
 */
@Injectable()
export class TieredCacheService implements OnApplicationShutdown {
  /** @internal */
  readonly [ENGINE]: CacheEngine;

  /** @internal Built by `TieredCacheModule`; inject it, don't construct it. */
  constructor(engine: CacheEngine) {
    this[ENGINE] = engine;
  }

  /**
   * The cached value, or `undefined` when neither tier has it. A cached `null` is returned as
   * `null`; a cached `undefined` reads the same as a miss.
   */
  get<T>(key: string): Promise<T | undefined> {
    const engine = this[ENGINE];
    return engine.get<T>(engine.scope(key));
  }

  /**
   * The entry with its times (created, fresh until, stale until; epoch milliseconds), or
   * undefined: what `get()` reads, plus when it expires.
   */
  peek<T>(key: string): Promise<CacheEntryInfo<T> | undefined> {
    const engine = this[ENGINE];
    return engine.peek(engine.scope(key)) as Promise<CacheEntryInfo<T> | undefined>;
  }

  /**
   * Reads many keys: L1 first, then the rest from Redis in one auto-pipelined round trip (split
   * per node on a Cluster), back-filling L1. Results are in the order of `keys`.
   */
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    const engine = this[ENGINE];
    return Promise.all(keys.map((k) => engine.get<T>(engine.scope(k))));
  }

  /** Stores many entries (auto-pipelined); resolves when Redis has them, or after `l2Timeout`. */
  async setMany(entries: readonly { key: string; value: unknown; options?: SetOptions }[]): Promise<void> {
    const engine = this[ENGINE];
    await Promise.all(entries.map((e) => engine.set(engine.scope(e.key), e.value, callPolicy(engine.options.entry, e.options, 'setMany()'))));
  }

  /** Evicts many keys: the same as `del(keys)`. */
  delMany(keys: readonly string[]): Promise<void> {
    return this.del(keys);
  }

  /**
   * Stores a value in both tiers and tells the other instances to drop their L1 copy. Resolves
   * when Redis has it, or after `l2Timeout` (a write Redis did not confirm is retried until it
   * does, then announced). A value the options do not store (`null` with `nullTtl: 0`) evicts
   * the key instead. Invalid options throw `TieredCacheConfigError` naming the option.
   */
  set<T>(key: string, value: T, options?: SetOptions): Promise<void> {
    const engine = this[ENGINE];
    return engine.set(engine.scope(key), value, callPolicy(engine.options.entry, options, 'set()'));
  }

  /**
   * Evicts keys from both tiers. Once it resolves this instance never serves the old value, and a
   * load of the key already in flight will not store its result.
   */
  del(keys: string | readonly string[]): Promise<void> {
    const engine = this[ENGINE];
    return engine.del(typeof keys === 'string' ? engine.scope(keys) : keys.map((k) => engine.scope(k)));
  }

  /**
   * The cached value, or the loader's result, stored for next time. Concurrent calls for one key
   * share one loader run; the loader's error reaches each of them and is not cached.
   * @example const product = await cache.getOrSet(`product:${id}`, () => repo.find(id), { ttl: 60_000 });
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    assertKey(key, 'getOrSet()');
    if (typeof loader !== 'function') throw new TypeError('nestjs-tiered-cache: getOrSet() needs a loader function');
    const engine = this[ENGINE];
    return engine.getOrSet(engine.scope(key), loader, callPolicy(engine.options.entry, options, 'getOrSet()'));
  }

  /**
   * Invalidates every entry stored with one of these tags, in both tiers and on every instance.
   * Costs one Redis write per tag, however many entries carry it.
   */
  invalidateTags(tags: string | readonly string[]): Promise<void> {
    return this[ENGINE].invalidateTags(typeof tags === 'string' ? [tags] : tags);
  }

  /**
   * Drops every entry under this cache's `keyPrefix` (SCAN + UNLINK in batches) and all of L1,
   * here at once and on the other instances through the bus (within `l1.ttl` if it is down).
   *
   * Ordered against every write: it first records its time (epoch milliseconds, to the
   * microsecond) in a clear marker Redis keeps for a day (`${keyPrefix}__clear:v1`; one per hash
   * slot on a Cluster). A `set()`/`@CachePut` dated before it, or a load that started before it,
   * that reaches Redis afterwards — during the SCAN or retried after an outage, from any
   * instance — is dropped, so once this resolves no instance reads an older value from Redis.
   * A clear Redis did not confirm is retried, with its own time, until it does.
   */
  clear(): Promise<void> {
    return this[ENGINE].clear();
  }

  /** Counters and state, read at call time. */
  stats(): CacheStatsSnapshot {
    return this[ENGINE].snapshot();
  }

  /** Redis round-trip time in milliseconds; rejects when Redis is not configured or not answering. */
  async ping(): Promise<number> {
    return this[ENGINE].shared.ping();
  }

  /** @internal Closes the connections the library opened; clients passed in stay open. */
  async onApplicationShutdown(): Promise<void> {
    await this[ENGINE].close();
  }
}
