import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { GetOrSetOptions, SetOptions } from '../interfaces/cache-operation-options.interface.js';
import { callPolicy, type EntryPolicy } from '../options/entry-policy.js';
import { KeyvSharedTier, type KeyvStore } from '../shared/keyv-shared-tier.js';
import { ENGINE } from '../tiered-cache.constants.js';
import type { TieredCacheService } from '../tiered-cache.service.js';
import type { Cache, CacheEntry, CacheEvents, WrapOptions, WrapOptionsRaw } from './cache-manager.interface.js';
import type { CompatSettings } from './cache-options.util.js';
import { LOAD_ONCE } from './compat.constants.js';
import { readWithExpiry } from './entry-expiry.util.js';

type TtlArg<T> = number | ((value: T) => number) | undefined;

/** A background refresh started by `wrap()`; a write or eviction of its key drops its result. */
interface Refresh {
  superseded: boolean;
}

/**
 * cache-manager 7's `Cache` over a `TieredCacheService`. The methods are arrow functions, bound
 * like cache-manager's closures, so `const { get } = cache` keeps working.
 */
export class TieredCacheManager implements Cache {
  readonly stores: KeyvStore[];
  readonly #service: TieredCacheService;
  readonly #settings: CompatSettings;
  readonly #events = new EventEmitter();
  readonly #id: string;
  readonly #refreshes = new Map<string, Refresh>();

  constructor(service: TieredCacheService, settings: CompatSettings) {
    this.#service = service;
    this.#settings = settings;
    this.#id = settings.cacheId ?? randomUUID();
    const shared = service[ENGINE].shared;
    this.stores = shared instanceof KeyvSharedTier ? [...shared.stores] : [];
  }

  readonly get = async <T>(key: string): Promise<T | undefined> => {
    const value = await this.#service.get<T>(key);
    if (value !== undefined) this.#events.emit('get', { key, value });
    return value;
  };

  readonly mget = async <T>(keys: string[]): Promise<Array<T | undefined>> => {
    const values = await this.#service.getMany<T>(keys);
    this.#events.emit('mget', { keys, values });
    return values;
  };

  readonly ttl = async (key: string): Promise<number | undefined> => (await readWithExpiry(this.#service, key))?.expiresAt;

  readonly set = async <T>(key: string, value: T, ttl?: number): Promise<T> => {
    this.#supersede(key);
    await this.#write(key, value, ttl);
    this.#events.emit('set', { key, value });
    return value;
  };

  readonly mset = async <T>(list: Array<CacheEntry<T>>): Promise<Array<CacheEntry<T>>> => {
    const resolved = list.map(({ key, value, ttl }) => ({ key, value, ttl: ttl ?? this.#settings.ttlOption }));
    for (const { key } of resolved) this.#supersede(key);
    await Promise.all(resolved.map((e) => this.#write(e.key, e.value, e.ttl)));
    this.#events.emit('mset', { list: resolved });
    return resolved;
  };

  readonly del = async (key: string): Promise<boolean> => {
    this.#supersede(key);
    await this.#service.del(key);
    this.#events.emit('del', { key });
    return true;
  };

  readonly mdel = async (keys: string[]): Promise<boolean> => {
    for (const key of keys) this.#supersede(key);
    await this.#service.del(keys);
    this.#events.emit('mdel', { keys });
    return true;
  };

  readonly clear = async (): Promise<boolean> => {
    for (const r of this.#refreshes.values()) r.superseded = true;
    await this.#service.clear();
    this.#events.emit('clear');
    return true;
  };

  readonly wrap = (async <T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttlOrOptions?: TtlArg<T> | WrapOptions<T> | WrapOptionsRaw<T>,
    refreshThresholdArg?: TtlArg<T>,
  ) => {
    const { ttl, refreshThreshold, raw } =
      typeof ttlOrOptions === 'object' && ttlOrOptions !== null
        ? (ttlOrOptions as Partial<WrapOptionsRaw<T>>)
        : { ttl: ttlOrOptions, refreshThreshold: refreshThresholdArg, raw: false };
    const threshold = refreshThreshold ?? this.#settings.refreshThreshold;
    if (raw === true || threshold !== undefined) {
      const hit = await readWithExpiry(this.#service, key);
      if (hit !== undefined) {
        const value = hit.value as T;
        const t = typeof threshold === 'function' ? threshold(value) : threshold;
        if (t !== undefined && hit.expiresAt - Date.now() < t) this.#refresh(key, fnc, ttl, value);
        return raw === true ? { value, expires: hit.expiresAt } : value;
      }
    }
    const value = await this.#load(key, fnc, ttl);
    if (raw !== true) return value;
    return { value, expires: (await readWithExpiry(this.#service, key))?.expiresAt };
  }) as Cache['wrap'];

  readonly on = <E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): EventEmitter =>
    this.#events.addListener(event, listener as (...args: any[]) => void);

  readonly off = <E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): EventEmitter =>
    this.#events.removeListener(event, listener as (...args: any[]) => void);

  readonly disconnect = async (): Promise<undefined> => {
    await this.#service.onApplicationShutdown();
    return undefined;
  };

  readonly cacheId = (): string => this.#id;

  /**
   * `CacheInterceptor`'s path: one handler run per key at a time (fleet-wide with the lease); a
   * `null`/`undefined` result reaches the waiting callers but is not stored. `ttl` is resolved
   * only when the handler runs, as `@nestjs/cache-manager` resolves `@CacheTTL` on a miss only.
   * @internal
   */
  [LOAD_ONCE]<T>(key: string, run: () => Promise<T>, ttl: () => Promise<number | undefined>): Promise<T> {
    let t = 0;
    return this.#loadThenStore(
      key,
      async () => {
        t = this.#engineTtl(await ttl());
        return run();
      },
      () => ({ ttl: t, nullTtl: 0 }),
    );
  }

  /** `wrap()`'s load: single-flight through `getOrSet`, with cache-manager's TTL rules. */
  #load<T>(key: string, fnc: () => T | Promise<T>, ttl: TtlArg<T>): Promise<T> {
    // The TTL may be a function of the value, a `null` lives as long as any value, and an
    // `undefined` result is not stored (cache-manager treats it as a miss).
    return this.#loadThenStore(key, fnc, (value) => {
      const t = this.#engineTtl(typeof ttl === 'function' ? ttl(value) : ttl);
      return { ttl: t, nullTtl: value === undefined ? 0 : t };
    });
  }

  /** Single flight through the engine's read path, storing the result under options that depend on it. */
  #loadThenStore<T>(key: string, loader: () => T | Promise<T>, storeAs: (value: T) => GetOrSetOptions): Promise<T> {
    const engine = this.#service[ENGINE];
    const base = engine.options.entry;
    const policy: EntryPolicy = { ...base, resultPolicy: (value: T) => callPolicy(base, storeAs(value), 'wrap()') };
    return engine.getOrSet(engine.scope(key), loader, policy);
  }

  /**
   * `refreshThreshold`: runs `fnc` in the background (once per key at a time) and stores its
   * result unless the key was written or evicted through this cache meanwhile.
   */
  #refresh<T>(key: string, fnc: () => T | Promise<T>, ttl: TtlArg<T>, current: T): void {
    if (this.#refreshes.has(key)) return;
    const run: Refresh = { superseded: false };
    this.#refreshes.set(key, run);
    void (async () => {
      try {
        const value = await fnc();
        if (run.superseded) return;
        await this.#write(key, value, typeof ttl === 'function' ? ttl(value) : ttl);
        this.#events.emit('set', { key, value });
        this.#events.emit('refresh', { key, value });
      } catch (error) {
        this.#events.emit('refresh', { key, value: current, error });
      } finally {
        if (this.#refreshes.get(key) === run) this.#refreshes.delete(key);
      }
    })();
  }

  #supersede(key: string): void {
    const r = this.#refreshes.get(key);
    if (r === undefined) return;
    r.superseded = true;
    this.#refreshes.delete(key);
  }

  /**
   * `set()` semantics: `null` is stored like any value, for the same TTL; `undefined` reads back
   * as a miss in cache-manager, so storing it removes the key.
   */
  #write(key: string, value: unknown, ttl: number | undefined): Promise<void> {
    const t = this.#engineTtl(ttl);
    if (value === undefined) return this.#service.del(key);
    const options: SetOptions = { ttl: t, nullTtl: t };
    return this.#service.set(key, value, options);
  }

  /** cache-manager's TTL in the engine's terms: none is the module default, `0` is `foreverTtl`. */
  #engineTtl(ttl: number | null | undefined): number {
    if (ttl === undefined || ttl === null) return this.#settings.defaultTtl;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
      throw new TypeError(`nestjs-tiered-cache: a ttl is a number of milliseconds >= 0 (0: no expiry); got ${String(ttl)}`);
    }
    return ttl === 0 ? this.#settings.foreverTtl : ttl;
  }
}
