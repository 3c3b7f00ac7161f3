import 'reflect-metadata';
import fc from 'fast-check';
import { createCodec } from '../../../lib/codec/serializers.js';
import { CacheEngine } from '../../../lib/engine/cache-engine.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';
import { MemoryBroker, type MemorySharedTier } from '../../../lib/shared/memory-shared-tier.js';
import { TieredCacheService } from '../../../lib/tiered-cache.service.js';
import { CACHE_SLOT } from '../../../lib/tiered-cache.constants.js';
import { catalogClass } from '../model/catalog.js';
import { type FleetModel, HUNG_CLOSE_DELAY, HUNG_CLOSE_MS, HUNG_DELAY, HUNG_LONG_DELAY, HUNG_LONG_MS } from '../model/commands.js';
import { PropertyViolation } from '../model/oracle.js';
import { type Catalog, type FaultControls, newWorld, type PerCall, type RunOptions, type World } from '../model/world.js';

/**
 * A fleet in memory: 2–3 engines, each over its own {@link MemorySharedTier} of one
 * {@link MemoryBroker}, with a fast-check scheduler deciding the order of every tier command's
 * execution and reply, every bus delivery and every loader completion. Time is logical for the
 * oracle: each batch of concurrent calls is one step, and the bus delay has passed between steps
 * (every delivery was released by then).
 */
export interface MemoryFleet {
  world: World;
  broker: MemoryBroker;
  tiers: MemorySharedTier[];
  /** The logical clock the oracle reads; `step()` moves it past the bus delay. */
  step(): void;
  close(): Promise<void>;
}

/**
 * The logical clock ticks once per reading (so calls order strictly) and jumps by STEP between
 * batches; the oracle's bus bound is half a step, so it has always passed by the next batch and
 * never within one.
 */
const STEP = 1_000_000;

/** Real time a loader with a delay takes in memory runs, in ms (see `hardTimeout` in interleavings.property.spec.ts). */
const LOADER_MS = 3;

/** Real time a hung loader (`HUNG_DELAY`) takes: a call that waited for it shows on the wall clock. */
const HUNG_MS = 40;

/**
 * How long a call of a shut-down instance may still run after `close()` resolved, in real ms:
 * long enough for a loaded machine to finish what the scheduler holds (a hung tier's commands
 * time out after `l2Timeout`, 100 ms), far shorter than a lease wait `close()` failed to end
 * (`lockWaitTimeout`, 1.5 s in these runs).
 */
const CLOSE_WAIT_MS = 700;

/**
 * `shared: false` builds engines without a shared tier (`redis: false`, L1 only): one instance
 * then, since nothing connects them.
 */
export async function memoryFleet(run: RunOptions, s: fc.Scheduler, shared = true, decoratorOptions: PerCall = {}): Promise<MemoryFleet> {
  let clock = 1;
  const now = () => ++clock;
  const broker = new MemoryBroker({ schedule: (p, label) => s.schedule(p, label) });
  const tiers: MemorySharedTier[] = [];
  const faults: FaultControls = {
    settleMs: 0,
    stop: async () => broker.setHung(true),
    resume: async () => broker.setHung(false),
    killSubscribers: async () => {
      for (const t of tiers) t.dropMessages(true);
      // The subscribers come back by themselves, a scheduler step later (and report the gap).
      const back = s.schedule(Promise.resolve(), 'resubscribe').then(() => {
        for (const t of tiers) t.dropMessages(false);
      });
      return { back };
    },
    disconnect: async () => {
      for (const t of tiers) t.setDown(true);
      // Back a scheduler step later: what failed meanwhile must be retried, not lost.
      const back = s.schedule(Promise.resolve(), 'reconnect').then(() => {
        for (const t of tiers) t.setDown(false);
      });
      return { back };
    },
    restart: async () => {
      broker.setDown(true);
      broker.flush();
      broker.setDown(false);
    },
  };
  // Loaders complete when the scheduler says so; one with a delay also takes a few ms of real
  // time (a macrotask), so a caller's hardTimeout (a real timer) can fire while it runs.
  const pause = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms >= HUNG_DELAY ? HUNG_MS : LOADER_MS)) : Promise.resolve());
  // L1 TTLs and timers run on the wall clock, entry and tag times on the engines' (faked) Date.
  const sleep = (ms: number) =>
    ms >= HUNG_LONG_DELAY
      ? new Promise<void>((resolve) => setTimeout(resolve, ms >= HUNG_CLOSE_DELAY ? HUNG_CLOSE_MS : HUNG_LONG_MS))
      : s.schedule(pause(ms), `loader ${ms} ms`);
  const world = newWorld(run, faults, sleep, now, {
    wall: () => performance.now(),
    engine: () => Date.now(),
  }) as World;
  world.decoratorOptions = decoratorOptions;
  // The wall-clock hardTimeout check discounts the time other processes starved this one of.
  const stopWatching = world.oracle.watchStalls();
  // Calls and writes of a batch start at a scheduler step each, a few ms of real time apart, so
  // one can start after another's hardTimeout fired, while its loader still runs.
  world.beforeWrite = () => s.schedule(pause(1), 'write');
  world.beforeRead = () => s.schedule(pause(1), 'call');
  world.instances = [];
  const { keyContext, ...module } = run.module;
  const resolved = resolveOptions({ serializer: module.serializer });
  const codec = await createCodec(resolved.serializer, resolved.maxValueBytes);
  const engines: CacheEngine[] = [];
  const running = new WeakMap<object, { read: Set<Promise<unknown>>; write: Set<Promise<unknown>> }>();
  const callsOf = (instance: object) => {
    let calls = running.get(instance);
    if (calls === undefined) running.set(instance, (calls = { read: new Set(), write: new Set() }));
    return calls;
  };
  world.calls = {
    add: (instance, call, kind) => {
      const set = callsOf(instance)[kind];
      set.add(call);
      const done = () => void set.delete(call);
      call.then(done, done);
    },
  };
  let nextId = run.instances;
  const start = async (i: number, id: number) => {
    const tier = shared ? broker.tier({ timeoutMs: module.l2Timeout }) : undefined;
    if (tier) tiers.push(tier);
    const options = resolveOptions({
      ...module,
      // Validated like a Redis setup (e.g. l1: false needs a shared tier); nothing connects to it.
      redis: shared ? 'redis://memory.invalid:6379' : false,
      l1: shared ? module.l1 : module.l1 || { max: 100, ttl: 1_000 },
      ...(keyContext ? { keyContext: () => world.als.getStore()?.tenant } : {}),
    });
    const engine = new CacheEngine(options, codec, tier);
    // Serving only once connected (subscribed), as a Nest app after its bootstrap.
    await engine.connect();
    engines[i] = engine;
    world.oracle.born(id);
    const cache = new TieredCacheService(engine);
    world.instances[i] = { id, cache, catalog: decoratedCatalog(world, id, cache, decoratorOptions) };
  };
  for (let i = 0; i < run.instances; i++) await s.waitFor(start(i, i));
  world.restart = async (i) => {
    const old = world.instances[i]!;
    const closing = engines[i]!;
    await start(i, nextId++);
    const calls = callsOf(old);
    await Promise.allSettled([...calls.write]);
    world.oracle.closing(old.id);
    // Announcements the old one had not sent yet go with it (as on a bus outage: others drop
    // their copies within l1.ttl); what it wrote to the shared tier stays.
    const shutdown = world.oracle.fault('shutdown');
    await closing.close();
    shutdown.end();
    const closedAt = performance.now();
    // Its reads go on (the scheduler runs their loaders meanwhile); none may wait for a lease.
    const reads = [...calls.read];
    const late = await Promise.race([
      Promise.allSettled(reads).then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), CLOSE_WAIT_MS)),
    ]);
    if (late && reads.some((c) => calls.read.has(c))) {
      throw new PropertyViolation(
        `a call on instance ${old.id} still ran ${Math.round(performance.now() - closedAt)} ms after close() resolved: shutdown must end its wait on another instance's lease`,
      );
    }
  };
  return {
    world,
    broker,
    tiers,
    step: () => void (clock += STEP),
    close: async () => {
      broker.setHung(false);
      try {
        for (const e of engines) await s.waitFor(e.close());
      } finally {
        stopWatching();
      }
    },
  };
}

/**
 * The decorated catalog of one instance (@Cacheable with `decoratorOptions`, @CacheEvict,
 * @CachePut), built with `new` and its cache slot filled as Nest's property injection does.
 */
function decoratedCatalog(world: World, instance: number, cache: TieredCacheService, decoratorOptions: PerCall): Catalog {
  const Catalog = catalogClass(world, () => instance, decoratorOptions);
  const catalog = new Catalog();
  Object.defineProperty(catalog, CACHE_SLOT, { value: cache, writable: true, configurable: true });
  return catalog;
}

/** Runs batches of concurrent commands on a memory fleet, the scheduler ordering everything. */
export async function runBatches(
  fleet: MemoryFleet,
  s: fc.Scheduler,
  batches: readonly (readonly fc.AsyncCommand<FleetModel, World, false>[])[],
): Promise<void> {
  const model: FleetModel = { stopped: false, quiesced: 0 };
  for (const batch of batches) {
    const runnable = batch.filter((c) => c.check(model));
    await s.waitFor(Promise.all(runnable.map((c) => c.run(model, fleet.world))));
    await s.waitFor(Promise.all(fleet.world.pending));
    // A step is longer than the bus bound: what is still in flight (a publish, a delivery, a
    // background store) lands before the clock passes it, in an order the scheduler picks.
    await drain(s);
    fleet.world.oracle.settled();
    fleet.step();
  }
  if (fleet.world.oracle.violations.length > 0) throw new Error(fleet.world.oracle.violations[0]);
}

/**
 * Runs every scheduled task until none is left, including those scheduled a few promise steps
 * after another one ran (a delivery after its publish): `waitAll` alone stops at an empty queue.
 */
export async function drain(s: fc.Scheduler): Promise<void> {
  for (;;) {
    await s.waitAll();
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (s.count() === 0) return;
  }
}
