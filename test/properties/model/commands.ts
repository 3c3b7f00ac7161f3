import fc from 'fast-check';
import { loaderOf } from './catalog.js';
import { rowId, type Tenant } from './database.js';
import { avoided } from '../budget.js';
import { PropertyViolation } from './oracle.js';
import { allIds, idsOfTag, type Instance, l1TtlOf, type PerCall, perCallArb, TAG_OF, TAGS, type World } from './world.js';

/** What fast-check's model tracks (only what preconditions need); the oracle holds the rest. */
export interface FleetModel {
  stopped: boolean;
  /** Quiescence points so far (each costs the longest staleness bound in wall time). */
  quiesced: number;
}

type Cmd = fc.AsyncCommand<FleetModel, World, false>;

const show = (t: Tenant) => (t === undefined ? 'undefined' : JSON.stringify(t));

/** Rethrows the first violation a background call recorded, so the run fails at this command. */
function rethrow(world: World): void {
  if (world.oracle.violations.length > 0) throw new PropertyViolation(world.oracle.violations[0]!);
}

function inTenant<T>(world: World, tenant: Tenant, call: () => Promise<T>): Promise<T> {
  return world.als.run({ tenant }, call);
}

/** Whether `inst` holds writes the shared tier has not confirmed (they will be retried and announced again). */
function unconfirmed(inst: Instance): boolean {
  return inst.cache.stats().l2.pendingWrites > 0;
}

/** A write's call, registered with its instance while it runs (see `World.restart`). */
function tracked<T>(world: World, inst: Instance, call: Promise<T>): Promise<T> {
  world.calls?.add(inst, call, 'write');
  return call;
}

function policyOf(world: World, per: PerCall | undefined, key: string) {
  return { ...per, ...(world.run.tags ? { tags: [TAG_OF[key]!] } : {}) };
}

/** `getOrSet` or the `@Cacheable` method, awaited or left running in the background. */
export class ReadCommand implements Cmd {
  constructor(
    readonly instance: number,
    readonly tenant: Tenant,
    readonly key: string,
    readonly via: 'service' | 'decorator',
    readonly delay: number,
    readonly fail: boolean,
    readonly background: boolean,
    readonly per: PerCall | undefined,
  ) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    await world.beforeRead?.();
    const { tenant, key } = this;
    const inst = world.instances[this.instance]!;
    // The oracle's name of the instance the call is made on (a restart replaces the slot's).
    const instance = inst.id;
    const what = this.via === 'service' ? 'getOrSet' : '@Cacheable';
    const lock = (this.per?.lock ?? true) && world.run.module.lock;
    // The hardTimeout this call asked for: a LoaderTimeoutError is allowed only then.
    const hardTimeout = (this.via === 'service' ? this.per?.hardTimeout : world.decoratorOptions?.hardTimeout) ?? world.run.module.hardTimeout;
    world.oracle.l1Ttl(instance, tenant, key, l1TtlOf(world.run, this.via === 'service' ? this.per : world.decoratorOptions));
    const startedAt = world.oracle.now();
    const epoch = world.oracle.epoch(tenant, key, hardTimeout);
    // Last before the call: the cache's own hardTimeout timer must start no earlier.
    const deadline = world.oracle.deadline(hardTimeout);
    const call = inTenant(world, tenant, () =>
      this.via === 'service'
        ? inst.cache.getOrSet(key, loaderOf(world, instance, tenant, key, this.delay, this.fail, lock, epoch), policyOf(world, this.per, key))
        : inst.catalog.find(tenant, key, this.delay, this.fail, epoch),
    );
    const checked = call
      .then(
        (v) => {
          world.oracle.checkValue(instance, tenant, key, startedAt, v, what);
          world.oracle.checkWait(instance, tenant, key, startedAt, v, hardTimeout, deadline, what, epoch);
        },
        (err) => {
          if (deadline !== undefined) clearTimeout(deadline.timer);
          if (err instanceof PropertyViolation) return;
          world.oracle.checkError(instance, tenant, key, startedAt, err, what, hardTimeout);
        },
      )
      .catch(() => undefined);
    world.calls?.add(inst, checked, 'read');
    if (this.background) {
      world.pending.add(checked);
      void checked.then(() => world.pending.delete(checked));
    } else {
      await checked;
      rethrow(world);
    }
  }
  toString() {
    return `${this.background ? 'start ' : ''}${this.via === 'service' ? 'getOrSet' : 'find'}@${this.instance}(${show(this.tenant)}, ${this.key}, delay ${this.delay}${this.fail ? ', fails' : ''}${this.per ? `, ${JSON.stringify(this.per)}` : ''})`;
  }
}

/**
 * Several loading calls of one key on one instance at once, with their own delays and timeouts:
 * the single flight, a caller's hardTimeout while another caller waits, a late joiner.
 */
export class ConcurrentReadsCommand implements Cmd {
  constructor(readonly reads: readonly ReadCommand[]) {}
  check = () => true;
  async run(m: FleetModel, world: World): Promise<void> {
    await Promise.all(this.reads.map((r) => r.run(m, world)));
  }
  toString() {
    return `together[${this.reads.map(String).join(', ')}]`;
  }
}

/**
 * Commands run together (each starts at once) or one after another with no batch step between
 * them: the races random batches rarely line up — a read of the shared tier overlapping a write
 * of the row on its instance, a load on one instance overlapping a delete on another, a write
 * during a dropped connection, two tag invalidations around a read within one millisecond.
 */
/**
 * A command that lets a few scheduler steps pass before it starts (memory runs; none elsewhere):
 * in a race group, a write can then land after a load read the row, while it stores.
 */
export class LaterCommand implements Cmd {
  constructor(
    readonly cmd: Cmd,
    readonly steps: number,
  ) {}
  check = (m: Readonly<FleetModel>) => this.cmd.check(m);
  async run(m: FleetModel, world: World): Promise<void> {
    for (let i = 0; i < this.steps; i++) await world.beforeWrite?.();
    await this.cmd.run(m, world);
  }
  toString() {
    return this.steps > 0 ? `after ${this.steps} steps ${this.cmd}` : String(this.cmd);
  }
}

export class GroupCommand implements Cmd {
  constructor(
    readonly cmds: readonly Cmd[],
    readonly sequential: boolean,
  ) {}
  check = (m: Readonly<FleetModel>) => this.cmds.every((c) => c.check(m));
  async run(m: FleetModel, world: World): Promise<void> {
    if (this.sequential) for (const c of this.cmds) await c.run(m, world);
    else await Promise.all(this.cmds.map((c) => c.run(m, world)));
  }
  toString() {
    return `${this.sequential ? 'then' : 'race'}[${this.cmds.map(String).join(', ')}]`;
  }
}

/** `get` or `peek`: a miss is allowed; a value must be the right row, fresh enough. */
export class GetCommand implements Cmd {
  constructor(
    readonly instance: number,
    readonly tenant: Tenant,
    readonly key: string,
    readonly via: 'get' | 'peek' = 'get',
    readonly background = false,
  ) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    const { tenant, key, via } = this;
    const { cache, id: instance } = world.instances[this.instance]!;
    world.oracle.l1Ttl(instance, tenant, key, l1TtlOf(world.run, undefined));
    const startedAt = world.oracle.now();
    const call = inTenant(world, tenant, async () => (via === 'get' ? cache.get(key) : (await cache.peek(key))?.value));
    const checked = call
      .then(
        (v) => world.oracle.checkValue(instance, tenant, key, startedAt, v, via, true),
        (err) => {
          if (err instanceof PropertyViolation) return;
          world.oracle.checkError(instance, tenant, key, startedAt, err, via);
        },
      )
      .catch(() => undefined);
    if (this.background) {
      world.pending.add(checked);
      void checked.then(() => world.pending.delete(checked));
    } else {
      await checked;
      rethrow(world);
    }
  }
  toString() {
    return `${this.background ? 'start ' : ''}${this.via}@${this.instance}(${show(this.tenant)}, ${this.key})`;
  }
}

/**
 * A write to the database and its invalidation: `del`, `@CacheEvict`, `set` / `@CachePut` of the
 * new row, or — deleting the row — `set(key, null)`.
 */
export class WriteCommand implements Cmd {
  constructor(
    readonly instance: number,
    readonly tenant: Tenant,
    readonly key: string,
    readonly via: 'del' | 'evict' | 'set' | 'put' | 'setNull',
    readonly per: PerCall | undefined,
  ) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    const { tenant, key } = this;
    await world.beforeWrite?.();
    world.db.write(tenant, key, this.via !== 'setNull');
    const inst = world.instances[this.instance]!;
    const e = world.oracle.invalidating(inst.id, [rowId(tenant, key)]);
    world.oracle.l1Ttl(inst.id, tenant, key, l1TtlOf(world.run, this.via === 'set' || this.via === 'setNull' ? this.per : undefined));
    const policy = { ...policyOf(world, this.per, key) } as Record<string, unknown>;
    delete policy.lock;
    delete policy.grace;
    delete policy.hardTimeout;
    try {
      await tracked(
        world,
        inst,
        inTenant(world, tenant, async () => {
          switch (this.via) {
            case 'del':
              return inst.cache.del(key);
            case 'evict':
              return inst.catalog.update(tenant, key);
            case 'set':
              return inst.cache.set(key, world.db.read(tenant, key), policy);
            case 'put':
              return void (await inst.catalog.put(tenant, key));
            case 'setNull':
              return inst.cache.set(key, null, policy);
          }
        }),
      );
    } catch (err) {
      throw new PropertyViolation(`${this} rejected: ${(err as Error)?.stack ?? String(err)}`);
    }
    world.oracle.invalidated(e, unconfirmed(inst));
  }
  toString() {
    return `${this.via}@${this.instance}(${show(this.tenant)}, ${this.key}${this.per ? `, ${JSON.stringify(this.per)}` : ''})`;
  }
}

/** Writes every row of a tag (all tenants), then `invalidateTags`. Only with tags on. */
export class TagCommand implements Cmd {
  constructor(
    readonly instance: number,
    readonly tag: string,
  ) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    const rows = idsOfTag(world.run, this.tag);
    await world.beforeWrite?.();
    for (const r of rows) world.db.write(r.tenant, r.key);
    const inst = world.instances[this.instance]!;
    const e = world.oracle.invalidating(
      inst.id,
      rows.map((r) => rowId(r.tenant, r.key)),
      true,
    );
    try {
      await tracked(world, inst, inst.cache.invalidateTags([this.tag]));
    } catch (err) {
      throw new PropertyViolation(`${this} rejected: ${String(err)}`);
    }
    world.oracle.invalidated(e, unconfirmed(inst));
  }
  toString() {
    return `invalidateTags@${this.instance}(${this.tag})`;
  }
}

/** Writes every row, then `clear()`. */
export class ClearCommand implements Cmd {
  constructor(readonly instance: number) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    const rows = allIds(world.run);
    await world.beforeWrite?.();
    for (const r of rows) world.db.write(r.tenant, r.key);
    const inst = world.instances[this.instance]!;
    const e = world.oracle.invalidating(
      inst.id,
      rows.map((r) => r.id),
    );
    try {
      await tracked(world, inst, inst.cache.clear());
    } catch (err) {
      throw new PropertyViolation(`${this} rejected: ${String(err)}`);
    }
    world.oracle.invalidated(e, unconfirmed(inst));
  }
  toString() {
    return `clear@${this.instance}()`;
  }
}

export class WaitCommand implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    await world.sleep(this.ms);
  }
  toString() {
    return `wait(${this.ms})`;
  }
}

/** Waits for every background call, then checks what they returned. */
export class SettleCommand implements Cmd {
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    await Promise.all(world.pending);
    rethrow(world);
  }
  toString() {
    return 'settle()';
  }
}

/**
 * Lets every bound pass (resuming a stopped tier first), then reads every row on every instance:
 * whatever was invalidated must be gone everywhere by now, whatever the faults were.
 */
export class QuiesceCommand implements Cmd {
  constructor(readonly max: number) {}
  check = (m: Readonly<FleetModel>) => m.quiesced < this.max;
  async run(m: FleetModel, world: World): Promise<void> {
    m.quiesced++;
    await Promise.all(world.pending);
    rethrow(world);
    if (m.stopped) {
      await world.faults.resume();
      m.stopped = false;
      const handle = world.stopped;
      world.stopped = undefined;
      handle?.end();
    }
    await world.sleep(world.oracle.bounds.busDownMs + world.faults.settleMs + 50);
    for (const inst of world.instances) {
      for (const { tenant, key } of allIds(world.run)) {
        world.oracle.l1Ttl(inst.id, tenant, key, l1TtlOf(world.run, undefined));
        const startedAt = world.oracle.now();
        const v = await inTenant(world, tenant, () => inst.cache.get(key));
        world.oracle.checkValue(inst.id, tenant, key, startedAt, v, 'get after quiescence', true);
      }
    }
  }
  toString() {
    return 'quiesce()';
  }
}

/**
 * Shuts an instance down and starts a fresh one in its place, while the batch's other calls run:
 * callers waiting on another instance's lease must stop waiting, and the new instance (empty L1)
 * must not serve anything an invalidation that landed before it started replaced (a tag marker
 * or a delete the shared tier did not take must have been retried). Memory runs only.
 */
export class RestartCommand implements Cmd {
  constructor(
    readonly instance: number,
    /** Scheduler steps it lets pass first: the batch's calls are under way by then (waiting on a lease, say). */
    readonly steps = 1,
  ) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    for (let i = 0; i < this.steps; i++) await world.beforeWrite?.();
    await world.restart!(this.instance);
  }
  toString() {
    return `restart@${this.instance}(after ${this.steps} steps)`;
  }
}

export class FaultCommand implements Cmd {
  constructor(readonly kind: 'stop' | 'resume' | 'killSubscribers' | 'restart' | 'disconnect') {}
  check = (m: Readonly<FleetModel>) => (this.kind === 'resume' ? m.stopped : !m.stopped);
  async run(m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    const f = world.faults;
    switch (this.kind) {
      case 'stop':
        world.stopped = world.oracle.fault('stop');
        await f.stop();
        m.stopped = true;
        return;
      case 'resume': {
        await f.resume();
        m.stopped = false;
        const handle = world.stopped;
        world.stopped = undefined;
        // Messages and retries may lag a little behind the resume.
        setTimeout(() => handle?.end(), f.settleMs).unref?.();
        return;
      }
      case 'killSubscribers':
      case 'disconnect':
      case 'restart': {
        const handle = world.oracle.fault(this.kind);
        const r = await (this.kind === 'restart' ? f.restart() : this.kind === 'disconnect' ? f.disconnect!() : f.killSubscribers());
        // In memory runs the fault lasts until the connections are back (a scheduler step later).
        void (r?.back ?? Promise.resolve()).then(() => setTimeout(() => handle.end(), f.settleMs).unref?.());
        return;
      }
    }
  }
  toString() {
    return `${this.kind}()`;
  }
}

/** The commands of a run over `instances` instances. */
export function commandArbs(opts: {
  module?: { lock?: boolean };
  instances: number;
  tenants: readonly Tenant[];
  keys: readonly string[];
  tags: boolean;
  perCall: boolean;
  faults: boolean;
  waits: readonly number[];
  quiesce: number;
  disconnects?: boolean;
  /** Whether instances may be shut down and replaced (`World.restart`). */
  restarts?: boolean;
}) {
  const inst = fc.integer({ min: 0, max: opts.instances - 1 });
  const tenant = fc.constantFrom(...opts.tenants);
  const key = fc.constantFrom(...opts.keys);
  const per = opts.perCall ? fc.option(perCallArb, { nil: undefined }) : fc.constant(undefined);
  const fails = avoided('loaderErrors') ? fc.constant(false) : fc.constantFrom(false, false, true);
  const writes = (['del', 'evict', 'set', 'put', 'setNull'] as const).filter((w) => !avoided(w));
  // Commands of one row, for the groups below.
  const load = (t: Tenant, k: string) =>
    fc.tuple(inst, fc.constantFrom(0, 20, 200), fails, per).map(([i, d, fail, p]) => new ReadCommand(i, t, k, 'service', d, fail, false, p));
  const lookup = (t: Tenant, k: string) => fc.tuple(inst, fc.constantFrom<'get' | 'peek'>('get', 'peek')).map(([i, via]) => new GetCommand(i, t, k, via));
  const write = (t: Tenant, k: string) =>
    fc
      .tuple(inst, fc.constantFrom<WriteCommand['via']>(...writes), per)
      .map(([i, via, p]) => new WriteCommand(i, t, k, via, via === 'set' || via === 'setNull' ? p : undefined));
  const arbs: fc.Arbitrary<Cmd>[] = [
    // Loads, lookups and writes of one row at once, on random instances, the write a few steps late.
    fc
      .tuple(tenant, key)
      .chain(([t, k]) =>
        fc.tuple(write(t, k), fc.integer({ min: 0, max: 4 }), fc.array(fc.oneof(load(t, k), lookup(t, k), write(t, k)), { minLength: 1, maxLength: 3 })),
      )
      .map(([w, steps, others]) => new GroupCommand([new LaterCommand(w, steps), ...others], false)),
    fc
      .tuple(
        inst,
        tenant,
        key,
        avoided('decorator') ? fc.constant<'service'>('service') : fc.constantFrom<'service' | 'decorator'>('service', 'decorator'),
        fc.constantFrom(0, 0, 20, 200),
        fails,
        fc.boolean(),
        per,
      )
      .map(([i, t, k, via, d, fail, bg, p]) => new ReadCommand(i, t, k, via, d, fail, bg, via === 'service' ? p : undefined)),
    fc
      .tuple(inst, tenant, key, fc.constantFrom(0, 0, 20, 200), fails, fc.boolean(), per)
      .map(([i, t, k, d, fail, bg, p]) => new ReadCommand(i, t, k, 'service', d, fail, bg, p)),
    fc
      .tuple(inst, tenant, key, fc.array(fc.tuple(fc.constantFrom(0, 20, 200), fails, per), { minLength: 2, maxLength: 3 }))
      .map(([i, t, k, calls]) => new ConcurrentReadsCommand(calls.map(([d, fail, p]) => new ReadCommand(i, t, k, 'service', d, fail, false, p)))),
    fc.tuple(inst, tenant, key, fc.constantFrom<'get' | 'peek'>('get', 'peek'), fc.boolean()).map(([i, t, k, via, bg]) => new GetCommand(i, t, k, via, bg)),
    fc
      .tuple(inst, tenant, key, fc.constantFrom<WriteCommand['via']>(...writes), per)
      .map(([i, t, k, via, p]) => new WriteCommand(i, t, k, via, via === 'set' || via === 'setNull' ? p : undefined)),
    fc.constantFrom(...opts.waits).map((ms) => new WaitCommand(ms)),
    fc.constant(new SettleCommand()),
  ];
  if (opts.quiesce > 0) arbs.push(fc.constant(new QuiesceCommand(opts.quiesce)));
  // Drawn with lock: false too since clear() moves every key's write version (its clear marker).
  if (!avoided('clear')) arbs.push(inst.map((i) => new ClearCommand(i)));
  if (opts.restarts && !avoided('restart')) arbs.push(fc.tuple(inst, fc.integer({ min: 1, max: 8 })).map(([i, n]) => new RestartCommand(i, n)));
  if (opts.tags) {
    arbs.push(fc.tuple(inst, fc.constantFrom(...TAGS)).map(([i, t]) => new TagCommand(i, t)));
    // Tag invalidations and reads on one instance in quick succession (one millisecond, often).
    arbs.push(
      fc
        .tuple(inst, tenant)
        .chain(([i, t]) =>
          fc.array(
            fc.oneof(
              fc.constantFrom(...TAGS).map((tag) => new TagCommand(i, tag)),
              key.map((k) => new GetCommand(i, t, k)),
              fc.tuple(key, fc.constantFrom(0, 20)).map(([k, d]) => new ReadCommand(i, t, k, 'service', d, false, false, undefined)),
            ),
            { minLength: 3, maxLength: 5 },
          ),
        )
        .map((cmds) => new GroupCommand(cmds, true)),
    );
    // Loads, lookups and tag invalidations of one row across the instances, one after another:
    // an instance that read a tag's time keeps it only `l1.ttl` (seen after a quiescence).
    arbs.push(
      fc
        .tuple(tenant, key)
        .chain(([t, k]) =>
          fc.array(
            fc.oneof(
              load(t, k),
              lookup(t, k),
              inst.map((i) => new TagCommand(i, TAG_OF[k]!)),
            ),
            { minLength: 3, maxLength: 5 },
          ),
        )
        .map((cmds) => new GroupCommand(cmds, true)),
    );
  }
  if (opts.faults && opts.disconnects && !avoided('disconnect')) {
    // A write or tag invalidation while every connection is cut: it must be retried, not lost.
    const during = opts.tags
      ? fc.oneof(
          fc.tuple(tenant, key).chain(([t, k]) => write(t, k)),
          fc.tuple(inst, fc.constantFrom(...TAGS)).map(([i, tag]) => new TagCommand(i, tag)),
        )
      : fc.tuple(tenant, key).chain(([t, k]) => write(t, k));
    arbs.push(during.map((c) => new GroupCommand([new FaultCommand('disconnect'), c], false)));
  }
  if (opts.faults) {
    arbs.push(
      fc
        .constantFrom<FaultCommand['kind']>(
          ...(['stop', 'resume', 'resume', 'killSubscribers', 'restart', ...(opts.disconnects ? (['disconnect'] as const) : [])] as const).filter(
            (f) => !avoided(f),
          ),
        )
        .map((k) => new FaultCommand(k)),
    );
  }
  return arbs;
}

/**
 * A loader "delay" that stands for a loader hung well past a call's `hardTimeout` (memory runs
 * make it take tens of real ms; a call that waited for it shows on the wall clock). Scenarios only.
 */
export const HUNG_DELAY = 1_000;

/**
 * A loader hung past its call's `hardTimeout` + a short `leaseTtl`, and the real ms it takes in
 * memory runs (on a plain timer: the scheduler waits for each task it releases, so a scheduled
 * one would hold every other instance's tier commands back with it). Scenarios only.
 */
export const HUNG_LONG_DELAY = 2_000;
export const HUNG_LONG_MS = 400;
/** A loader hung well past a shutdown's grace for its waiters (`CLOSE_WAIT_MS`, 700 ms), and its real ms. */
export const HUNG_CLOSE_DELAY = 3_000;
export const HUNG_CLOSE_MS = 1_000;

/** Lets `ms` of real time pass (memory runs: L1 TTLs run on the wall clock, and the engines' Date with it). */
export class RealWaitCommand implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: FleetModel, world: World): Promise<void> {
    rethrow(world);
    await new Promise<void>((resolve) => setTimeout(resolve, this.ms));
  }
  toString() {
    return `realWait(${this.ms})`;
  }
}

/**
 * Scenarios over several batches (memory runs), each a sequence the random batches rarely line up,
 * where a read comes after something has landed everywhere (between two batches) — after L1
 * copies aged (wall clock) or entries went stale (the engines' clock jumps between batches):
 *
 * - a row read on one instance (maybe with a short per-call `l1Ttl`), written or tag-invalidated
 *   on another, read again there, maybe after the copy's `l1Ttl` (defects 6 and 8);
 * - two rows loaded on one instance, stale in its L1 a few batches later, read again, each
 *   refreshed in the background (their grace period), then read once more (defect 1);
 * - a write or tag invalidation while every connection is cut, then a fresh instance that reads
 *   the row (defect 3);
 * - a load without a lease racing a delete on another instance, then a read on the deleting one
 *   (defect 10);
 * - a lookup racing a write of the row on its instance, then a read there (defect 7);
 * - a call whose loader hangs past its `hardTimeout`, decorated or not (defects 5 and 14).
 */
export function scenarioArbs(
  opts: Parameters<typeof commandArbs>[0] & {
    module?: { lock?: boolean; bus?: boolean; l1?: false | { ttl: number } };
    decorator?: PerCall;
    realTime?: boolean;
  },
): fc.Arbitrary<Cmd[][]>[] {
  const n = opts.instances;
  const inst = fc.integer({ min: 0, max: n - 1 });
  const two = fc.tuple(inst, inst).filter(([a, b]) => a !== b);
  const row = fc.tuple(fc.constantFrom(...opts.tenants), fc.constantFrom(...opts.keys));
  const rows = opts.tenants.flatMap((t) => opts.keys.map((k) => [t, k] as const));
  const writes = (['del', 'evict', 'set', 'put', 'setNull'] as const).filter((w) => !avoided(w));
  const out: fc.Arbitrary<Cmd[][]>[] = [];
  if (n < 2) return out;
  const read = (i: number, t: Tenant, k: string) =>
    fc.oneof(
      fc.constantFrom<'get' | 'peek'>('get', 'peek').map((via) => new GetCommand(i, t, k, via) as Cmd),
      fc.constant(new ReadCommand(i, t, k, 'service', 0, false, false, undefined) as Cmd),
      fc.constant(new ReadCommand(i, t, k, 'decorator', 0, false, false, undefined) as Cmd),
    );
  // Without the bus, an instance learns of another's tag invalidation only by reading the tag's
  // time again once it has trusted it for `l1.ttl` (no L1: at every read): tag invalidations,
  // and reads past the module's L1 TTL, are drawn more often there, after a load elsewhere (defect 6).
  const tagRereads = opts.tags && opts.module?.bus === false;
  const invalidate = (i: number, t: Tenant, k: string): fc.Arbitrary<Cmd> => {
    const w = fc.constantFrom(...writes).map((via) => new WriteCommand(i, t, k, via, undefined) as Cmd);
    const tag = fc.constant(new TagCommand(i, TAG_OF[k]!) as Cmd);
    return opts.tags ? fc.oneof({ weight: 1, arbitrary: w }, { weight: tagRereads ? 3 : 1, arbitrary: tag }) : w;
  };
  const pastModuleTtl = tagRereads && opts.module?.l1 && opts.module.l1.ttl === 300 ? [320, 320] : [320];
  // Read here, invalidated there, read here again (after an L1 TTL of real time, or not).
  out.push(
    fc
      .tuple(two, row, opts.perCall ? fc.constantFrom<PerCall | undefined>({ l1Ttl: 100 }, undefined) : fc.constant(undefined))
      // Past a per-call l1Ttl of 100 ms, or past the module's (300 ms), or no time at all.
      .chain(([pair, r, per]) =>
        fc.tuple(
          fc.constant(pair),
          fc.constant(r),
          fc.constant(per),
          !opts.realTime ? fc.constant(0) : per ? fc.constant(150) : fc.constantFrom(0, 150, ...pastModuleTtl),
        ),
      )
      .chain(([[a, b], [t, k], per, ms]) =>
        fc.tuple(invalidate(a, t, k), read(b, t, k)).map(([inv, again]) => [
          // Without the bus, the row loaded first elsewhere: this instance's first read is then a
          // shared-tier hit, where it learns the tag's time it must read again later.
          ...(tagRereads ? [[new ReadCommand(a, t, k, 'service', 0, false, false, undefined)]] : []),
          [new ReadCommand(b, t, k, 'service', 0, false, false, per)],
          [inv],
          ...(ms > 0 ? [[new RealWaitCommand(ms)]] : []),
          [again],
        ]),
      ),
  );
  // Two rows stale in one instance's L1, each refreshed in its grace period, read again.
  if (rows.length > 1) {
    const per: PerCall | undefined = opts.perCall ? { ttl: 400, grace: 1_000 } : undefined;
    out.push(
      fc
        .tuple(inst, fc.shuffledSubarray(rows, { minLength: 2, maxLength: 2 }))
        .map(([i, [[t1, k1], [t2, k2]]]) => [
          [new ReadCommand(i, t1!, k1!, 'service', 0, false, false, per)],
          [new ReadCommand(i, t2!, k2!, 'service', 0, false, false, per)],
          [new WaitCommand(0)],
          [new ReadCommand(i, t1!, k1!, 'service', 0, false, false, per)],
          [new ReadCommand(i, t2!, k2!, 'service', 0, false, false, per)],
          [new GetCommand(i, t2!, k2!)],
        ]),
    );
  }
  // A lookup that reads the shared tier racing a write of the row on the same instance, then a read
  // there: the lookup must not put back in L1 what the write replaced (defect 7).
  out.push(
    fc
      .tuple(inst, inst, row, fc.constantFrom<'get' | 'peek'>('get', 'peek'), fc.constantFrom(...writes), fc.integer({ min: 0, max: 3 }))
      .chain(([loader, i, [t, k], via, w, steps]) =>
        read(i, t, k).map((again) => [
          [new ReadCommand(loader, t, k, 'service', 0, false, false, undefined)],
          [new GroupCommand([new GetCommand(i, t, k, via), new LaterCommand(new WriteCommand(i, t, k, w, undefined), steps)], false)],
          [again],
        ]),
      ),
  );
  // A write or tag invalidation during a dropped connection, then a fresh instance reads the row.
  if (opts.faults && opts.disconnects && opts.restarts && !avoided('disconnect') && !avoided('restart')) {
    out.push(
      fc
        .tuple(two, row, inst)
        .chain(([[a, b], [t, k], loader]) =>
          fc
            .tuple(invalidate(a, t, k), read(b, t, k))
            .map(([inv, again]) => [
              [new ReadCommand(loader, t, k, 'service', 0, false, false, undefined)],
              [new GroupCommand([new FaultCommand('disconnect'), inv], false)],
              [new RestartCommand(b, 1)],
              [again],
            ]),
        ),
    );
  }
  // A load without a lease racing a delete elsewhere, then a read where the delete was made.
  const noLease: PerCall | undefined = opts.module?.lock === false ? undefined : opts.perCall ? { lock: false } : null!;
  if (noLease !== null) {
    out.push(
      fc
        // The delete a few steps late: after the load read the key's write version and the row (4
        // or so scheduler steps in), before it stores.
        .tuple(two, row, fc.integer({ min: 2, max: 8 }), fc.constantFrom(0, 20))
        .map(([[a, b], [t, k], steps, delay]) => [
          [
            new GroupCommand(
              [new ReadCommand(b, t, k, 'service', delay, false, false, noLease), new LaterCommand(new WriteCommand(a, t, k, 'del', undefined), steps)],
              false,
            ),
          ],
          [new GetCommand(a, t, k)],
        ]),
    );
  }
  // A loader hung past its call's hardTimeout and the lease's TTL while another instance waits on its
  // lease: the lease lapses, and the waiter loads (defect 16). Runs with a short leaseTtl only.
  const m = opts.module as { hardTimeout?: number; leaseTtl?: number } | undefined;
  if (opts.realTime && m?.leaseTtl !== undefined && m.leaseTtl < 1_000 && opts.perCall && opts.module?.lock !== false) {
    const variants: [ReadCommand['via'], PerCall | undefined, PerCall | undefined][] = [
      ['service', { hardTimeout: 2 }, m.hardTimeout ? { hardTimeout: 0 } : undefined],
    ];
    if (m.hardTimeout) variants.push(['service', undefined, { hardTimeout: 0 }]);
    if (opts.decorator?.hardTimeout && !m.hardTimeout) variants.push(['decorator', undefined, undefined]);
    out.push(
      fc.tuple(two, row, fc.constantFrom(...variants), fc.integer({ min: 2, max: 6 })).map(([[a, b], [t, k], [via, holder, waiter], steps]) => [
        [
          new GroupCommand(
            [
              new ReadCommand(a, t, k, via, HUNG_LONG_DELAY, false, false, holder),
              new LaterCommand(new ReadCommand(b, t, k, 'service', 0, false, false, waiter), steps),
              // The batch lasts until the hung loader is done (its store settles with the batch).
              new RealWaitCommand(HUNG_LONG_MS + 100),
            ],
            false,
          ),
        ],
      ]),
    );
  }
  // An instance shut down while a call of it waits on another instance's lease (held by a hung
  // loader): shutdown ends the wait (defect 15). Runs with the default leaseTtl (2 s) only.
  if (opts.realTime && opts.restarts && !avoided('restart') && m?.leaseTtl === undefined && opts.module?.lock !== false && (!m?.hardTimeout || opts.perCall)) {
    const waiter: PerCall | undefined = m?.hardTimeout ? { hardTimeout: 0 } : undefined;
    out.push(
      fc
        .tuple(two, row, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 4, max: 10 }))
        .map(([[a, b], [t, k], steps, more]) => [
          [
            new GroupCommand(
              [
                new ReadCommand(a, t, k, 'service', HUNG_CLOSE_DELAY, false, false, undefined),
                new LaterCommand(new ReadCommand(b, t, k, 'service', 0, false, false, waiter), steps),
                new RestartCommand(b, steps + more),
                new RealWaitCommand(HUNG_CLOSE_MS + 100),
              ],
              false,
            ),
          ],
        ]),
    );
  }
  // A loader hung past the call's hardTimeout (2 ms in memory runs): the call must not wait for it.
  if (opts.decorator?.hardTimeout || (opts.module as { hardTimeout?: number } | undefined)?.hardTimeout) {
    out.push(
      fc
        .tuple(inst, row, opts.decorator?.hardTimeout ? fc.constantFrom<'decorator' | 'service'>('decorator', 'service') : fc.constant<'service'>('service'))
        .map(([i, [t, k], via]) => [[new ReadCommand(i, t, k, via, HUNG_DELAY, false, false, undefined)]]),
    );
  }
  return out;
}
