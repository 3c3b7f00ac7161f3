import 'reflect-metadata';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { Cacheable, type TieredCacheModuleOptions, type TieredCacheService } from 'nestjs-tiered-cache';
import { createApp, eventually, sleep, uniquePrefix } from '../support/app.js';

/** The source of truth every instance loads from, and how often each instance loaded. */
export const db = new Map<string, string>();

@Injectable()
export class Catalog {
  loads = 0;

  @Cacheable({ key: (id: string) => `item:${id}`, tags: (id: string) => (id.startsWith('tagged') ? ['shelf'] : []) })
  async find(id: string): Promise<string | undefined> {
    this.loads++;
    return db.get(id);
  }
}

export interface Instance {
  app: INestApplicationContext;
  cache: TieredCacheService;
  catalog: Catalog;
}

/**
 * `n` Nest apps sharing a key prefix on one Redis, with an L1 TTL of ten minutes: when a copy
 * ends in a test, the L1 TTL is never what ended it.
 */
export async function fleetOf(
  n: number,
  redis: TieredCacheModuleOptions['redis'],
  options: TieredCacheModuleOptions = {},
): Promise<{ keyPrefix: string; instances: Instance[] }> {
  const keyPrefix = options.keyPrefix ?? uniquePrefix('tracking');
  const instances = await Promise.all(
    Array.from({ length: n }, async () => {
      const { app, cache } = await createApp({ redis, keyPrefix, ttl: 600_000, l1: { ttl: 600_000 }, ...options }, { providers: [Catalog] });
      return { app, cache, catalog: app.get(Catalog) };
    }),
  );
  return { keyPrefix, instances };
}

/**
 * Every instance holds `value` for `id` in its L1: read until each answers from L1. (A copy made
 * just before the news of the write that stored it arrives is dropped by that news.)
 */
export async function warm(instances: Instance[], id: string, value: string): Promise<void> {
  db.set(id, value);
  for (const i of instances) {
    for (let attempt = 0; ; attempt++) {
      const hits = i.cache.stats().l1.hits;
      if ((await i.catalog.find(id)) !== value) throw new Error(`warm: ${id} is not ${value}`);
      if (i.cache.stats().l1.hits > hits) break;
      if (attempt === 100) throw new Error(`warm: ${id} never stays in L1`);
      await sleep(10);
    }
  }
}

/** Whether every instance reads `value` for `id` within two seconds. */
export function allSee(instances: Instance[], id: string, value: string | undefined): Promise<boolean> {
  return eventually(async () => (await Promise.all(instances.map((i) => i.catalog.find(id)))).every((v) => v === value), 2_000);
}

/** Whether tracking is on in every instance within `ms`. */
export function trackingOn(instances: Instance[], ms = 10_000): Promise<boolean> {
  return eventually(() => instances.every((i) => i.cache.stats().tracking.status === 'on'), ms);
}

/** The ids of the connections invalidations are redirected to (`redir=` of tracking clients). */
export async function redirectTargets(node: Redis | Cluster): Promise<string[]> {
  const list = String(await (node as Redis).call('CLIENT', 'LIST'));
  return [...list.matchAll(/ redir=(\d+)/g)].map((m) => m[1]!).filter((id) => id !== '-1' && id !== '0');
}
