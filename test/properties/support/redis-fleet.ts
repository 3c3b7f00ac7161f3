import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createApp, sleep, uniquePrefix } from '../../support/app.js';
import { rawClient, RedisServer } from '../../support/redis-server.js';
import { CATALOG, catalogClass } from '../model/catalog.js';
import type { FleetModel } from '../model/commands.js';
import { type Catalog, type FaultControls, newWorld, type PerCall, type RunOptions, type World } from '../model/world.js';

/**
 * A real redis-server for the file (stopped by PID after) and fleets of Nest apps on it: one
 * fleet per property run, all sharing one key prefix, with real faults (SIGSTOP/SIGCONT,
 * SIGKILL + restart, `CLIENT KILL TYPE pubsub`).
 */
export function redisFleets() {
  let redis: RedisServer;
  let raw: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis);
    // Restarts refuse its reconnects for a moment: expected here, not worth ioredis's console noise.
    raw.on('error', () => undefined);
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  function faults(): FaultControls {
    return {
      settleMs: 1_000,
      stop: async () => redis.signal('SIGSTOP'),
      resume: async () => redis.signal('SIGCONT'),
      killSubscribers: async () => {
        await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      },
      restart: async () => {
        await redis.kill();
        await redis.start();
      },
    };
  }

  /** 2–3 apps with `run`'s options (and a decorated catalog with `decoratorOptions`) on this Redis. */
  async function build(run: RunOptions, decoratorOptions: object): Promise<{ world: World; close(): Promise<void> }> {
    const world = newWorld(run, faults(), sleep) as World;
    const stopWatching = world.oracle.watchStalls();
    world.instances = [];
    world.decoratorOptions = decoratorOptions as PerCall;
    const apps: INestApplicationContext[] = [];
    const keyPrefix = uniquePrefix('fleet');
    const { keyContext, ...module } = run.module;
    try {
      for (let i = 0; i < run.instances; i++) {
        const Catalog = catalogClass(world, () => i, decoratorOptions);
        const { app, cache } = await createApp(
          { ...module, redis: redis.url, keyPrefix, ...(keyContext ? { keyContext: () => world.als.getStore()?.tenant } : {}) },
          { providers: [{ provide: CATALOG, useClass: Catalog }] },
        );
        apps.push(app);
        world.instances.push({ id: i, cache, catalog: app.get<Catalog>(CATALOG) });
      }
      world.oracle.tierTrouble = () =>
        world.instances.reduce((n, x) => {
          const l2 = x.cache.stats().l2;
          return n + l2.errors + l2.timeouts + l2.skipped;
        }, 0);
    } catch (err) {
      for (const app of apps) await app.close();
      stopWatching();
      throw err;
    }
    return {
      world,
      close: async () => {
        if (world.stopped) redis.signal('SIGCONT');
        await Promise.race([Promise.all(world.pending), sleep(5_000)]);
        for (const app of apps) await app.close();
        stopWatching();
      },
    };
  }

  /** Runs `cmds` on a new fleet; rejects with the first broken promise. */
  async function run(options: RunOptions, cmds: Iterable<fc.AsyncCommand<FleetModel, World, false>>, decoratorOptions: object = {}): Promise<World> {
    const fleet = await build(options, decoratorOptions);
    try {
      await fc.asyncModelRun(() => ({ model: { stopped: false, quiesced: 0 } as FleetModel, real: fleet.world }), cmds);
      // Whatever is still running must settle and pass the oracle too.
      await Promise.all(fleet.world.pending);
      if (fleet.world.oracle.violations.length > 0) throw new Error(fleet.world.oracle.violations[0]);
      return fleet.world;
    } finally {
      await fleet.close();
    }
  }

  return { run };
}
