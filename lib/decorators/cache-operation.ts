import { TieredCacheConfigError } from '../errors.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { canonicalArgs } from '../keys/default-key.util.js';
import { defaultNamespace } from '../keys/default-namespace.util.js';
import { type EntryPolicy, mergePolicy, withUnless } from '../options/entry-policy.js';
import { readStart } from '../telemetry/trace-channels.js';

type AnyFn = (...args: any[]) => any;

/** What one decorator recorded about one method, resolved once at decoration time. */
export interface CacheOperation {
  kind: 'cacheable' | 'evict' | 'put';
  /** `Class.method`, for messages. */
  label: string;
  /**
   * Namespace of default keys and `allEntries`: the `namespace` option, else the declaring
   * class's (see `namespaceOf` for subclasses).
   */
  namespace: string;
  /** The class that declares the method (for inherited methods, see `namespaceOf`). */
  declaringClass?: abstract new (
    ...args: any[]
  ) => unknown;
  method: string;
  key?: AnyFn;
  /** Tags from the arguments: stored with the entry (cacheable, put) or invalidated (evict). */
  tags?: AnyFn;
  condition?: AnyFn;
  /** Vetoes storing a result. */
  unless?: (result: any) => boolean;
  /** The decorator's own options (entry options among them were validated at decoration). */
  options: object;
  allEntries: boolean;
  beforeInvocation: boolean;
  /** The entry policy merged for the engine it was last used with (most processes run one app). */
  merged?: { engine: CacheEngine; policy: EntryPolicy };
}

/** Runs a `@Cacheable` method through the cache. An L1 hit allocates nothing but the promise. */
export function runCacheable(engine: CacheEngine, op: CacheOperation, original: AnyFn, self: unknown, args: unknown[]): Promise<unknown> {
  if (skipped(op, self, args)) return original.apply(self, args);
  const key = keyOf(engine, op, self, args);
  if (key === undefined) return original.apply(self, args);
  // Traced, getOrSet publishes the whole read (L1 included).
  if (readStart.hasSubscribers) return engine.getOrSet(key, () => callOriginal(engine, op, original, self, args), policyOf(engine, op, self, args));
  const hit = engine.read.freshInL1(key);
  if (hit !== undefined) return Promise.resolve(hit.value);
  return engine.read.miss(key, () => callOriginal(engine, op, original, self, args), policyOf(engine, op, self, args));
}

/** Whether `condition` keeps this call away from the cache (the method then just runs). */
function skipped(op: CacheOperation, self: unknown, args: unknown[]): boolean {
  return op.condition !== undefined && !op.condition.apply(self, args);
}

/**
 * The entry policy of one call: the decorator's options over the module's (merged once per
 * engine), plus the call's tags when it has a tags function.
 */
function policyOf(engine: CacheEngine, op: CacheOperation, self: unknown, args: unknown[]): EntryPolicy {
  let merged = op.merged;
  if (merged?.engine !== engine) {
    merged = { engine, policy: withUnless(mergePolicy(engine.options.entry, op.options, op.label), op.unless) };
    op.merged = merged;
  }
  if (op.tags === undefined) return merged.policy;
  const tags = tagsOf(engine, op, self, args);
  return tags === undefined ? merged.policy : { ...merged.policy, tags };
}

function tagsOf(engine: CacheEngine, op: CacheOperation, self: unknown, args: unknown[]): string[] | undefined {
  try {
    const tags: unknown = op.tags!.apply(self, args);
    if (Array.isArray(tags) && tags.every((t) => typeof t === 'string' && t !== '')) return tags as string[];
    engine.warnOnce(`tags:${op.label}`, `${op.label}: the tags function must return an array of non-empty strings; tags ignored.`);
  } catch (err) {
    engine.warnOnce(`tags:${op.label}`, `${op.label}: the tags function threw (${(err as Error).message}); tags ignored.`);
  }
  return undefined;
}

/** Runs a `@CachePut` method: always runs it, then stores its result. */
export async function runCachePut(engine: CacheEngine, op: CacheOperation, original: AnyFn, self: unknown, args: unknown[]): Promise<unknown> {
  if (skipped(op, self, args)) return original.apply(self, args);
  const key = keyOf(engine, op, self, args);
  const result = await callOriginal(engine, op, original, self, args);
  if (key !== undefined && !op.unless?.(result)) await engine.set(key, result, policyOf(engine, op, self, args));
  return result;
}

/** Runs a `@CacheEvict` method: evicts after it resolves (or before it runs). */
export async function runCacheEvict(engine: CacheEngine, op: CacheOperation, original: AnyFn, self: unknown, args: unknown[]): Promise<unknown> {
  if (skipped(op, self, args)) return original.apply(self, args);
  if (op.beforeInvocation) await evict(engine, op, self, args);
  const result = await callOriginal(engine, op, original, self, args);
  if (!op.beforeInvocation) await evict(engine, op, self, args);
  return result;
}

async function evict(engine: CacheEngine, op: CacheOperation, self: unknown, args: unknown[]): Promise<void> {
  if (op.tags !== undefined) {
    const tags = tagsOf(engine, op, self, args);
    if (tags !== undefined) await engine.invalidateTags(tags);
  }
  if (op.allEntries) return engine.deleteNamespace(engine.scope(namespaceOf(op, self)));
  if (op.key === undefined) return;
  let keys: unknown;
  try {
    keys = op.key.apply(self, args);
  } catch (err) {
    engine.warnOnce(`key:${op.label}`, `@CacheEvict on ${op.label}: no key, nothing evicted (${(err as Error).message}).`);
    return;
  }
  const list = typeof keys === 'string' ? [keys] : Array.isArray(keys) ? keys : [];
  if (list.length === 0 || list.some((k) => typeof k !== 'string' || k === '')) {
    engine.warnOnce(`key:${op.label}`, `@CacheEvict on ${op.label}: the key function must return a non-empty string or an array of them; nothing evicted.`);
    return;
  }
  await engine.del((list as string[]).map((k) => engine.scope(k)));
}

/**
 * The entry's key, or undefined when none can be made (the method then runs uncached: a key
 * problem must not fail a call that would succeed).
 */
function keyOf(engine: CacheEngine, op: CacheOperation, self: unknown, args: unknown[]): string | undefined {
  let key: unknown;
  try {
    key = op.key ? op.key.apply(self, args) : defaultKey(op, self, args);
    if (typeof key !== 'string' || key === '') {
      engine.warnOnce(`key:${op.label}`, `${op.label} runs uncached: its key function returned ${key === '' ? "''" : String(key)}, not a non-empty string.`);
      return undefined;
    }
    return engine.scope(key);
  } catch (err) {
    engine.warnOnce(`key:${op.label}`, `${op.label} runs uncached: no cache key (${(err as Error).message}).`);
    return undefined;
  }
}

function defaultKey(op: CacheOperation, self: unknown, args: unknown[]): string {
  return `${namespaceOf(op, self)}:${op.method}:${canonicalArgs(args)}`;
}

/**
 * The namespace of a call: an inherited method called on a subclass instance takes the
 * subclass's namespace, so two subclasses of one base never share default keys (their `this`
 * may read different data). A `namespace` option applies as given.
 */
function namespaceOf(op: CacheOperation, self: unknown): string {
  const declaring = op.declaringClass;
  if (declaring === undefined || self === null || typeof self !== 'object') return op.namespace;
  const ctor = (self as object).constructor;
  if (ctor === declaring || typeof ctor !== 'function' || !(self instanceof declaring)) return op.namespace;
  return defaultNamespace(ctor);
}

function callOriginal(engine: CacheEngine, op: CacheOperation, original: AnyFn, self: unknown, args: unknown[]): Promise<unknown> {
  const result = original.apply(self, args);
  if (result === null || typeof result !== 'object' || typeof (result as Promise<unknown>).then !== 'function') {
    engine.warnOnce(`sync:${op.label}`, `${op.label} did not return a Promise; decorated methods must be async.`);
  }
  return result;
}

/** Throws at decoration time when the method is declared to return something other than a Promise. */
export function assertReturnsPromise(target: object, propertyKey: string | symbol, decorator: string): void {
  const returnType = Reflect.getMetadata?.('design:returntype', target, propertyKey);
  if (returnType !== undefined && returnType !== Promise) {
    const label = `${target.constructor.name}.${String(propertyKey)}`;
    throw new TieredCacheConfigError(
      `nestjs-tiered-cache: ${decorator} on ${label}: the method must return a Promise ` +
        `(declared return type: ${returnType?.name ?? String(returnType)}). Make it async, or remove the decorator.`,
    );
  }
}
