import { Inject, Optional } from '@nestjs/common';
import { TieredCacheConfigError } from '../errors.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { defaultNamespace } from '../keys/default-namespace.util.js';
import { CACHE_OPERATION_METADATA, CACHE_SLOT, ENGINE } from '../tiered-cache.constants.js';
import { TieredCacheService } from '../tiered-cache.service.js';
import { checkEntryOptions } from '../options/entry-policy.js';
import { fail } from '../options/option-checks.js';
import { assertReturnsPromise, type CacheOperation } from './cache-operation.js';

type AnyFn = (...args: any[]) => any;
type Runner = (engine: CacheEngine, op: CacheOperation, original: AnyFn, self: unknown, args: unknown[]) => Promise<unknown>;

const injected = new WeakSet<object>();

/**
 * Replaces the method with a stub that finds its app's cache through a per-instance slot, filled
 * by Nest's property injection (or by the explorer for `useValue`/`useFactory` instances). No
 * process-global state: two apps in one process keep separate caches. Until the slot is filled
 * (in a constructor, or on an instance built with `new`), the method runs uncached.
 */
export function installStub(
  decorator: string,
  target: object,
  propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
  build: (namespace: string, method: string, label: string) => CacheOperation,
  run: Runner,
): PropertyDescriptor {
  const original = descriptor.value as AnyFn;
  const label = `${target.constructor.name}.${String(propertyKey)}`;
  if (typeof original !== 'function') {
    throw new TieredCacheConfigError(`nestjs-tiered-cache: ${decorator} on ${label}: decorate a method.`);
  }
  if (typeof target === 'function') {
    throw new TieredCacheConfigError(`nestjs-tiered-cache: ${decorator} on static ${label}: decorate an instance method of a provider or controller.`);
  }
  assertReturnsPromise(target, propertyKey, decorator);
  const op = build(defaultNamespace(target.constructor), String(propertyKey), label);
  checkOperation(op, `${decorator} on ${label}`);
  if ((op.options as { namespace?: string }).namespace === undefined) op.declaringClass = target.constructor as CacheOperation['declaringClass'];

  const stub = function (this: any, ...args: unknown[]) {
    // No engine (not injected yet, or a test stand-in for TieredCacheService): run uncached.
    const engine: CacheEngine | undefined = this?.[CACHE_SLOT]?.[ENGINE];
    if (engine === undefined) return original.apply(this, args);
    return run(engine, op, original, this, args);
  };
  Object.defineProperty(stub, 'name', { value: original.name });
  // Metadata set by decorators applied before this one (below it) stays readable on the stub.
  for (const k of Reflect.getOwnMetadataKeys?.(original) ?? []) {
    Reflect.defineMetadata(k, Reflect.getOwnMetadata(k, original), stub);
  }
  Reflect.defineMetadata(CACHE_OPERATION_METADATA, op, stub);
  Reflect.defineMetadata(CACHE_OPERATION_METADATA, true, target);

  if (!injected.has(target)) {
    injected.add(target);
    Inject(TieredCacheService)(target, CACHE_SLOT);
    Optional()(target, CACHE_SLOT);
  }
  descriptor.value = stub;
  return descriptor;
}

/** Decoration-time checks of a decorator's options: entry options like module options, functions as functions. */
function checkOperation(op: CacheOperation, where: string): void {
  checkEntryOptions(op.options, where);
  for (const name of ['key', 'tags', 'condition', 'unless'] as const) {
    const v = (op.options as Record<string, unknown>)[name];
    if (v !== undefined && typeof v !== 'function')
      fail(name, `give a function of the method's arguments${name === 'unless' ? ' (unless: of its result)' : ''}; got ${typeof v}`, where);
  }
  if (op.namespace === '' || typeof op.namespace !== 'string') fail('namespace', 'give a non-empty string', where);
}
