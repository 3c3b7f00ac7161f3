import { Injectable } from '@nestjs/common';
import { Cacheable, CacheEvict, CachePut } from 'nestjs-tiered-cache';
import type { Row, Tenant } from './database.js';
import { type CallEpoch, LoaderFailure } from './oracle.js';
import { type Catalog, type PerCall, TAG_OF, type World } from './world.js';

/** The token the catalog of each instance is registered under. */
export const CATALOG = Symbol('Catalog');

/**
 * A loader of `tenant`/`key` on `instance`: reads the row at its start (a load that overlaps a
 * write returns the older version, the hard case), waits `delay` ms, then returns it or fails.
 * The oracle sees every run.
 */
export function loaderOf(world: World, instance: number, tenant: Tenant, key: string, delay: number, fail: boolean, lock: boolean, epoch: CallEpoch) {
  return async (): Promise<Row | null> => {
    const run = world.oracle.loaderStarted(instance, tenant, key, lock, epoch);
    const row = world.db.read(tenant, key);
    try {
      if (delay > 0) {
        run.paused = true;
        await world.sleep(delay);
      }
      if (fail) throw world.oracle.newFailure(run);
      if (row !== null) {
        row.at = world.oracle.now();
        row.run = run.run;
      }
      world.oracle.loaderEnded(run);
      return row;
    } catch (err) {
      world.oracle.loaderEnded(run, err instanceof LoaderFailure ? err : undefined);
      throw err;
    }
  };
}

/**
 * The decorated service of one instance: `find` is `@Cacheable`, `update` writes the row and is
 * `@CacheEvict`, `put` writes it and is `@CachePut`, all on the key a service call uses.
 * Built per run, since decorator options are fixed when the class is defined.
 */
export function catalogClass(world: World, instance: () => number, options: PerCall) {
  const tags = world.run.tags ? { tags: (_t: Tenant, key: string) => [TAG_OF[key]!] } : {};
  const lock = options.lock ?? world.run.module.lock;

  @Injectable()
  class DecoratedCatalog implements Catalog {
    @Cacheable({ key: (_t: Tenant, key: string) => key, ...options, ...tags })
    async find(tenant: Tenant, key: string, delay: number, fail: boolean, epoch: CallEpoch): Promise<Row | null> {
      return loaderOf(world, instance(), tenant, key, delay, fail, lock, epoch)();
    }

    @CacheEvict({ key: (_t: Tenant, key: string) => key })
    async update(tenant: Tenant, key: string): Promise<void> {
      // The write itself happens in the command, so the oracle knows its version first.
      void tenant;
      void key;
    }

    @CachePut({ key: (_t: Tenant, key: string) => key, ttl: options.ttl, nullTtl: options.nullTtl, ...tags })
    async put(tenant: Tenant, key: string): Promise<Row> {
      return world.db.read(tenant, key)!;
    }
  }
  return DecoratedCatalog;
}
