import { type Row, rowId, type Tenant, tenantTag, type VersionedDatabase } from './database.js';

/**
 * What the README allows a read to return, given everything that happened before it. Each
 * command tells the oracle what it did (invalidations with the versions they made current,
 * faults, loader runs) and asks it to check what a read returned or how a call failed; a broken
 * promise is recorded in `violations` (and thrown by `check*` so fast-check shrinks to it).
 */
export interface Bounds {
  /** Whether invalidations are published (`bus` option). */
  bus: boolean;
  /**
   * Whether Redis reports other clients' writes to this instance (`tracking` with L1, real Redis
   * only): like the bus, it may evict a key here — and supersede its load — up to `busMs` after.
   */
  tracking?: boolean;
  /** How long another instance may serve an older version while its bus is up, in ms. */
  busMs: number;
  /**
   * How much later an invalidation the shared tier did not confirm at once (an `l2Timeout` on a
   * slow or loaded machine) may be delivered again, in ms: its retry period plus `l2Timeout`. The
   * README: retried every second until Redis confirms them, "then announced again on the bus".
   */
  redeliveryMs?: number;
  /**
   * How long it may while its bus is down, or with `bus: false`, in ms: `l1.ttl`, plus the
   * retry period of an unconfirmed delete, plus slack.
   */
  busDownMs: number;
  /**
   * The widest L1 TTL `busDownMs` includes, in ms. When set, an instance's bound for a row uses
   * the widest L1 TTL its own calls of that row asked for instead (see `l1Ttl`): an L1 copy lives
   * no longer than the `l1Ttl` of the call that made it. Tag invalidations keep `busDownMs`
   * (timestamps are re-read every module `l1.ttl`).
   */
  l1TtlMs?: number;
  /** Longest an entry may be served after it was produced: max ttl + max grace + slack, in ms. */
  lifetimeMs: number;
  /** Whether `LoaderTimeoutError` is an allowed outcome (some `hardTimeout` > 0). */
  hardTimeout: boolean;
  /** Whether the fleet-wide single loader is promised (lock on for every call). */
  fleetLock: boolean;
  /**
   * Whether a call's `hardTimeout` is checked against a timer of the oracle's own (see
   * `deadline`): only where the cache's timeouts and the loaders' delays are real timers.
   */
  hardTimeoutTimers?: boolean;
  /**
   * Memory runs (see `Oracle` `clocks`): a call with \`hardTimeout\` h that returns a value its own
   * loader produced after waiting for a timer more than h + this many ms (wall clock) after the
   * call started waited past its hardTimeout (Redis runs use \`hardTimeoutTimers\` instead).
   */
  hardTimeoutSlackMs?: number;
  /**
   * Memory runs (see `Oracle` `clocks`): once an invalidation has landed everywhere (`settled`), a
   * read on another instance serves an older version only while an L1 copy made before may live,
   * and a tag's time learnt before may be trusted. Undefined in Redis runs (`busDownMs` bounds those).
   */
  landed?: {
    /** Whether instances have an L1 (its TTL runs on the wall clock: lru-cache reads `performance.now()`). */
    l1: boolean;
    /** How long a tag's time is trusted before it is read again (`l1.ttl`; 0 without L1 and bus), engine ms. */
    tagKnownForMs: number;
    /** Slack for timers and clock readings, in ms. */
    slackMs: number;
  };
  /**
   * Memory runs: `leaseTtl` (engine ms). A loader run whose call has a `hardTimeout` holds its lease
   * at most that plus `leaseTtl` (README: a hung loader renews its lease for at most `hardTimeout`),
   * so no other instance waits on it longer (see `loaderStarted`).
   */
  leaseTtlMs?: number;
}

/**
 * A call's hardTimeout as the oracle times it: a timer set just before the cache sets its own,
 * for the same duration (see `Oracle.deadline`).
 */
export interface Deadline {
  /** The oracle's event count when the timer fired; undefined while it has not. */
  passedAt: number | undefined;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The clocks a memory run's engines go by, besides the oracle's logical one (see `Oracle`). */
export interface Clocks {
  /** Real ms (`performance.now()`): what L1 TTLs and timers go by. */
  wall(): number;
  /** The engines' `Date.now()` (faked: it jumps between batches): entry and tag times. */
  engine(): number;
}

/** The wall and engine time at one reading of the oracle's clock. */
interface Instant {
  wall: number;
  engine: number;
}

/** Thrown by a test loader: the oracle knows which run threw which failure. */
export class LoaderFailure extends Error {
  constructor(
    readonly run: number,
    readonly id: string,
  ) {
    super(`loader run ${run} of ${id} failed`);
    this.name = 'LoaderFailure';
  }
}

interface Invalidation {
  instance: number;
  /**
   * When a memory run had let everything in flight land after this invalidation resolved (its
   * retries included: see `settled`); undefined until then, or when a hung tier may hold it back.
   */
  settledAt?: number;
  /** The wall and engine time when it settled (memory runs with `clocks`). */
  settledClocks?: Instant;
  /** The version of each row this invalidation made current. */
  versions: Map<string, number>;
  invokedAt: number;
  resolvedAt: number | undefined;
  /** Its instance still had writes the shared tier had not confirmed when it resolved. */
  unconfirmed?: boolean;
  /** An `invalidateTags`. */
  tags: boolean;
}

interface Fault {
  name: string;
  from: number;
  to: number;
}

/** The row's epoch when a call was made, and when (see `Oracle.epoch`). */
export interface CallEpoch {
  readonly n: number;
  readonly at: number;
  /** The call's own `hardTimeout`, ms (0 or undefined: none). */
  readonly hardTimeout?: number;
  /** `Oracle.tierTrouble` when the call was made (undefined without it). */
  readonly trouble?: number;
}

interface LoaderRun {
  run: number;
  instance: number;
  id: string;
  epoch: number;
  /** When the call that runs this loader was made. */
  calledAt: number;
  start: number;
  end: number | undefined;
  failure: LoaderFailure | undefined;
  /**
   * When a failed run's error had reached the cache: the turn of the event loop after the throw
   * (see `loaderEnded`). A call made from then on must not get it.
   */
  delivered: number | undefined;
  lock: boolean;
  /** The oracle's event count when it returned or threw (see `deadline`). */
  endEvent: number | undefined;
  /** The call that runs this loader (its epoch object). */
  call: CallEpoch;
  /** Whether the loader waited for a timer (a delay): memory runs check waits only then (see `checkWait`). */
  paused: boolean;
}

/** How often `watchStalls` probes the event loop, in ms. */
const PROBE_MS = 10;
/** A probe later than this past its period found the event loop blocked meanwhile, in ms. */
const STALL_MS = 20;

/** Slack of the lease-wait check (see `Bounds.leaseTtlMs`): a waiter wakes when the lease would lapse, then asks again, in ms. */
const LEASE_SLACK_MS = 50;

/**
 * When the event loop was blocked, on one clock: a probe every {@link PROBE_MS} that runs more
 * than {@link STALL_MS} late found it blocked meanwhile.
 */
class StallWatch {
  readonly #stalls: { from: number; to: number }[] = [];
  /** When the probe last ran; undefined when it does not run. */
  #lastProbe: number | undefined;

  constructor(private readonly now: () => number) {}

  watch(): () => void {
    this.#lastProbe = this.now();
    const probe = () => {
      const now = this.now();
      if (now - this.#lastProbe! > PROBE_MS + STALL_MS) this.add(this.#lastProbe! + PROBE_MS, now);
      this.#lastProbe = now;
    };
    const timer = setInterval(probe, PROBE_MS);
    timer.unref?.();
    return () => {
      clearInterval(timer);
      probe();
      this.#lastProbe = undefined;
    };
  }

  add(from: number, to: number): void {
    this.#stalls.push({ from, to });
  }

  /**
   * How long the event loop was blocked between `from` and `to`, in ms: the stalls recorded, and
   * the one under way if the probe is late right now (a check made in the turn a stall ended).
   */
  between(from: number, to: number): number {
    let ms = 0;
    const add = (s: { from: number; to: number }) => void (ms += Math.max(0, Math.min(to, s.to) - Math.max(from, s.from)));
    for (const s of this.#stalls) add(s);
    const now = this.now();
    if (this.#lastProbe !== undefined && now - this.#lastProbe > PROBE_MS + STALL_MS) add({ from: this.#lastProbe + PROBE_MS, to: now });
    return ms;
  }
}

/** Epoch ms with sub-millisecond precision: two calls in one millisecond still order. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export class PropertyViolation extends Error {
  override name = 'PropertyViolation';
}

export class Oracle {
  readonly violations: string[] = [];
  readonly #invalidations = new Map<string, Invalidation[]>();
  readonly #faults: Fault[] = [];
  readonly #runs: LoaderRun[] = [];
  readonly #epochs = new Map<string, number>();
  /** When each instance (by oracle id: a restarted instance gets a new one) started. */
  readonly #bornAt = new Map<number, number>();
  /** When each instance shut down (see `closing`). */
  readonly #closed = new Map<number, number>();
  /** The widest L1 TTL a call on an instance asked for, per instance and row (see `Bounds.l1TtlMs`). */
  readonly #l1Ttls = new Map<string, number>();
  /** Each L1 TTL a call on an instance asked for, with when (see `Bounds.landed`). */
  readonly #l1TtlsAt = new Map<string, { at: number; ms: number }[]>();
  /** The wall and engine time at each reading of the logical clock (memory runs with `clocks`). */
  readonly #instants = new Map<number, Instant>();
  readonly now: () => number;
  #nextRun = 0;
  /** Counts loader ends and hardTimeouts running out, in the order the event loop ran them. */
  #events = 0;
  /** When this process's event loop was blocked, on the oracle's clock (see `watchStalls`). */
  readonly #stalls = new StallWatch(() => this.now());
  /** The same on the wall clock, for memory runs' wall-clock checks (see `watchStalls`). */
  readonly #wallStalls = new StallWatch(() => performance.now());
  /**
   * Tolerates a known open defect (FUZZ_AVOID=tagJoin, to look past it): a call made after an
   * `invalidateTags` that joins a load of the row started before it gets that load's value.
   */
  tolerateTagJoin = false;

  /**
   * Real-Redis runs: how many Redis commands of the fleet's instances have failed, timed out or
   * been skipped by an open breaker so far (their `stats().l2`). Such a command is a fault the
   * run did not inject: a loaded machine (the fuzz runs 28 workers on 2 cores) can starve a
   * process or redis-server past `l2Timeout`, and a miss whose read or lease failed loads without
   * the lease (README: "a miss sends at most two (the read, then the lease, skipped when the read
   * failed) before the loader runs"; fuzz seed 1510519573).
   */
  tierTrouble: (() => number) | undefined;

  /**
   * `clocks` (memory runs, whose `now` is a logical clock): each reading of `now` also notes the
   * wall and engine time, for `Bounds.landed` and `hardTimeoutSlackMs`.
   */
  constructor(
    readonly db: VersionedDatabase,
    readonly bounds: Bounds,
    now: () => number = preciseNow,
    readonly clocks?: Clocks,
  ) {
    this.now =
      clocks === undefined
        ? now
        : () => {
            const t = now();
            this.#instants.set(t, { wall: clocks.wall(), engine: clocks.engine() });
            return t;
          };
  }

  // ---- what happened ----

  /** An invalidation on `instance` is about to run; the DB already holds the new `versions`. */
  invalidating(instance: number, ids: readonly string[], tags = false): Invalidation {
    const e: Invalidation = {
      instance,
      versions: new Map(ids.map((id) => [id, this.db.version(id)])),
      invokedAt: this.now(),
      resolvedAt: undefined,
      tags,
    };
    for (const id of ids) {
      this.#epochs.set(id, (this.#epochs.get(id) ?? 0) + 1);
      let list = this.#invalidations.get(id);
      if (list === undefined) this.#invalidations.set(id, (list = []));
      list.push(e);
    }
    return e;
  }

  /**
   * The invalidation's call resolved: from now on `instance` never serves older versions.
   * `unconfirmed`: its instance reported writes the shared tier has not confirmed yet (see
   * `Bounds.redeliveryMs`).
   */
  invalidated(e: Invalidation, unconfirmed = false): void {
    e.resolvedAt = this.now();
    e.unconfirmed = unconfirmed;
  }

  /**
   * Real-time runs: probes the event loop every 10 ms and remembers when it was blocked (a long
   * GC pause, a CPU starved by other processes: the fuzz runs 14 workers on 2 cores). A delivery
   * bound (`busMs`) holds for a running event loop: a bus message or tracking report that reached
   * the socket, or a tracking check whose `l2Timeout` timer was due, is handled only once the
   * loop runs again, so the time it was blocked does not count (see `StallWatch.between`). Memory runs watch
   * the wall clock, for their wall-clock hardTimeout check. Returns `stop`.
   */
  watchStalls(): () => void {
    // Memory runs: on the wall clock (their `now` is logical: a probe must not move it).
    return this.clocks !== undefined ? this.#wallStalls.watch() : this.#stalls.watch();
  }

  /** The event loop was blocked from `from` to `to` (epoch ms; wall ms in memory runs): see `watchStalls`. */
  stall(from: number, to: number): void {
    (this.clocks !== undefined ? this.#wallStalls : this.#stalls).add(from, to);
  }

  /** A fault that may cost messages or Redis writes began; `end()` when it is over. */
  fault(name: string): { end(): void } {
    const f: Fault = { name, from: this.now(), to: Infinity };
    this.#faults.push(f);
    return { end: () => void (f.to = this.now()) };
  }

  /** How many invalidations of the row have started, and when: a call's loads belong to the epoch it was made in. */
  epoch(tenant: Tenant, key: string, hardTimeout?: number): CallEpoch {
    return { n: this.#epochs.get(rowId(tenant, key)) ?? 0, at: this.now(), hardTimeout, trouble: this.tierTrouble?.() };
  }

  /**
   * Instance `instance` (a new oracle id) starts now, with an empty L1: from its first call it
   * reads the shared tier, so it never serves what a settled invalidation replaced.
   */
  born(instance: number): void {
    this.#bornAt.set(instance, this.now());
  }

  /** A call on `instance` may keep the row in its L1 for `ms` (its effective `l1Ttl`; 0 without L1). */
  l1Ttl(instance: number, tenant: Tenant, key: string, ms: number): void {
    const k = `${instance} ${rowId(tenant, key)}`;
    if (ms > (this.#l1Ttls.get(k) ?? -1)) this.#l1Ttls.set(k, ms);
    if (this.clocks !== undefined) {
      let list = this.#l1TtlsAt.get(k);
      if (list === undefined) this.#l1TtlsAt.set(k, (list = []));
      list.push({ at: this.now(), ms });
    }
  }

  /**
   * Instance `instance` is shutting down: callers waiting on another instance's lease stop waiting
   * and run their loader (README), so its loads from now on hold no lease.
   */
  closing(instance: number): void {
    this.#closed.set(instance, this.now());
  }

  /**
   * Memory runs, between batches: everything in flight has landed (scheduled tier commands,
   * deliveries, and the retries a reconnect starts). Resolved invalidations are settled, unless a
   * hung tier (`stop`, noticed through timeouts and retried on a timer) overlapped them, or their
   * instance shut down after a fault that may have left them unconfirmed.
   */
  settled(): void {
    const now = this.now();
    const hung = this.#faults.filter((f) => f.name === 'stop');
    for (const list of this.#invalidations.values()) {
      for (const e of list) {
        if (e.settledAt !== undefined || e.resolvedAt === undefined) continue;
        if (hung.some((f) => f.from <= now && f.to >= e.invokedAt)) continue;
        // Shut down with the write perhaps unconfirmed (a fault since it began): its retries
        // stopped with it (open: see the README of the properties).
        const closedAt = this.#closed.get(e.instance);
        if (closedAt !== undefined && this.#faults.some((f) => f.name !== 'shutdown' && f.from <= closedAt && f.to >= e.invokedAt)) continue;
        e.settledAt = now;
        e.settledClocks = this.#instants.get(now);
      }
    }
  }

  /**
   * A loader run begins, for a call made in `epoch` (see `epoch()`); checks the single-flight
   * promises: two runs of one row at once are allowed only for calls an invalidation separated.
   */
  loaderStarted(instance: number, tenant: Tenant, key: string, lock: boolean, epoch: CallEpoch): LoaderRun {
    const id = rowId(tenant, key);
    const now = this.now();
    if (this.#closed.has(instance)) lock = false;
    const r: LoaderRun = {
      run: ++this.#nextRun,
      instance,
      id,
      epoch: epoch.n,
      calledAt: epoch.at,
      start: now,
      end: undefined,
      failure: undefined,
      delivered: undefined,
      lock,
      endEvent: undefined,
      call: epoch,
      paused: false,
    };
    for (const o of this.#runs) {
      if (o.end !== undefined || o.id !== id) continue;
      if (o.instance === instance) {
        // Another instance's eviction reaches this one over the bus, up to busMs after it
        // resolved: delivered while `o` ran, it supersedes `o`, and the next call loads afresh.
        // Its own eviction supersedes `o` when it lands here, which may be after `o`'s call even
        // though it was invoked before (an `@CacheEvict` evicts once its method has returned).
        if (
          o.epoch === epoch.n &&
          !this.#ownEvictionLandingAfter(id, instance, o.calledAt) &&
          !this.#evictionDeliveredDuring(id, instance, o.start) &&
          !this.#lateAnnouncementDuring(id, instance, o.start)
        )
          this.#violate(`two loaders of ${id} at once on instance ${instance} (runs ${o.run} and ${r.run}) with no invalidation between them`);
      } else if (
        // An eviction deletes the lease (the load in flight will store nothing): the next caller
        // anywhere loads afresh. It lands somewhere between its call and its return, so two
        // loaders are allowed when one may have landed between the first one's call (its ACQUIRE
        // came later) and the second one's start; otherwise they break the lease.
        !this.#evictionBetween(id, o.calledAt, now) &&
        this.bounds.fleetLock &&
        lock &&
        o.lock &&
        // A fault during either call (a read that failed, a lease not granted) lets it load alone.
        !this.#faultBetween(Math.min(o.calledAt, epoch.at), now) &&
        !this.#troubleSince(o.call, epoch)
      ) {
        this.#violate(`two loaders of ${id} at once on instances ${o.instance} and ${instance} (runs ${o.run} and ${r.run}) while the lease holder lives`);
      }
    }
    if (lock) this.#checkLeaseWait(instance, id, epoch.at, now);
    this.#runs.push(r);
    return r;
  }

  /**
   * A loader run returned or threw. A failure counts as delivered only once this turn of the event
   * loop is over: the loader's promise is not even rejected when it throws, and the cache sees the
   * rejection a few promise reactions later, so a call made in between (by a promise reaction in
   * the same turn, which a new request never is) may still join the failing load and get its
   * error. That is not a cached error; a call made in a later turn that gets it is.
   */
  loaderEnded(r: LoaderRun, failure?: LoaderFailure): void {
    r.end = this.now();
    r.endEvent = ++this.#events;
    r.failure = failure;
    if (failure !== undefined) setImmediate(() => void (r.delivered = this.now()));
  }

  newFailure(r: LoaderRun): LoaderFailure {
    return new LoaderFailure(r.run, r.id);
  }

  // ---- what may be returned ----

  /**
   * The oldest version a read of `id` on `instance` started at `at` may return: that of the
   * latest invalidation it must have seen — or, where writes of the row overlapped that one
   * (either may have landed last), the oldest of them.
   */
  minVersion(instance: number, id: string, at: number): number {
    const all = this.#invalidations.get(id) ?? [];
    let min = 0;
    for (const e of all) {
      if (e.resolvedAt === undefined) continue;
      let bound: number;
      if (e.instance === instance) bound = 0;
      // Started after it settled: nothing of the old value is in this instance's L1.
      else if (e.settledAt !== undefined && e.settledAt < (this.#bornAt.get(instance) ?? -Infinity)) bound = 0;
      // The bus delay counts time the event loop ran (see `watchStalls`).
      else if (this.bounds.bus && !this.#faultBetween(e.invokedAt, at)) bound = this.bounds.busMs + this.#stalls.between(e.resolvedAt, at);
      else if (this.bounds.l1TtlMs === undefined || e.tags) bound = this.bounds.busDownMs;
      else bound = this.bounds.busDownMs - this.bounds.l1TtlMs + (this.#l1Ttls.get(`${instance} ${id}`) ?? 0);
      // Strictly after: a read that started in the same instant overlapped the invalidation.
      if (!(e.resolvedAt + bound < at) && !this.#landedFor(e, instance, id, at)) continue;
      if (
        e.tags &&
        this.tolerateTagJoin &&
        this.#runs.some((r) => r.instance === instance && r.id === id && r.start < e.invokedAt && (r.end === undefined || r.end >= at))
      )
        continue;
      let v = e.versions.get(id)!;
      for (const f of all) {
        const overlaps = f.invokedAt <= e.resolvedAt && (f.resolvedAt === undefined || f.resolvedAt >= e.invokedAt);
        if (overlaps) v = Math.min(v, f.versions.get(id)!);
      }
      min = Math.max(min, v);
    }
    return min;
  }

  /**
   * Checks a value a read on `instance` (started at `startedAt`, for `tenant`/`key`) returned.
   * `undefined` is allowed where `missAllowed` (a `get`).
   */
  checkValue(instance: number, tenant: Tenant, key: string, startedAt: number, value: unknown, what: string, missAllowed = false): void {
    const id = rowId(tenant, key);
    const min = this.minVersion(instance, id, startedAt);
    if (value === undefined) {
      if (!missAllowed) this.#violate(`${what} on instance ${instance} returned undefined for ${id}`);
      return;
    }
    if (value === null) {
      if (!this.db.absentBetween(id, min)) {
        this.#violate(`${what} on instance ${instance} returned null for ${id}, which has existed since version ${min} (the oldest it may return)`);
      }
      return;
    }
    const row = value as Row;
    if (typeof row !== 'object' || typeof row.version !== 'number') {
      this.#violate(`${what} on instance ${instance} returned ${JSON.stringify(value)} for ${id}: not a row`);
      return;
    }
    if (row.key !== key || row.tenant !== tenantTag(tenant)) {
      this.#violate(`${what} on instance ${instance} asked for ${id} and got the row of ${row.tenant}/${row.key} (another key's or tenant's value)`);
      return;
    }
    if (row.version < min) {
      this.#violate(`${what} on instance ${instance} returned version ${row.version} of ${id}; after the invalidations it saw, the oldest allowed is ${min}`);
    }
    this.#checkHungValue(instance, id, startedAt, row, what);
    if (startedAt > row.at + this.bounds.lifetimeMs) {
      this.#violate(`${what} on instance ${instance} returned version ${row.version} of ${id} produced ${startedAt - row.at} ms earlier, past ttl + grace`);
    }
  }

  /**
  /**
   * Times a call's `hardTimeout` (ms; undefined for 0, or where `Bounds.hardTimeoutTimers` is
   * off). Set it in the same synchronous step as the call, just before it: the cache's own timer
   * then has the same duration and a start no earlier, so Node runs it right after this one, with
   * only promise reactions between them. A value that reaches the call after this timer fired
   * therefore reached it after the cache's timer had run out too (see `checkWait`).
   */
  deadline(hardTimeout: number): Deadline | undefined {
    if (!this.bounds.hardTimeoutTimers || hardTimeout <= 0) return undefined;
    const d: Deadline = { passedAt: undefined, timer: setTimeout(() => void (d.passedAt = ++this.#events), hardTimeout) };
    d.timer.unref?.();
    return d;
  }

  /**
   * Checks that a call with `hardTimeout` (ms) started at `startedAt` did not wait for a load past
   * it. Redis runs (`deadline`): it got no value whose loader returned after the call's deadline
   * ran out, judged by the order the event loop ran the two in, not by clocks: on a loaded machine
   * a loader's timer can run hundreds of ms late, and the `at` it then stamps is as late, although
   * its value was due before the call's timer and reached the call first, as the README's "reject
   * with `LoaderTimeoutError` after this long" allows. A value loaded before the call (a stale
   * one, served past the timeout) or stored by a write is never flagged. Memory runs (`clocks`,
   * `Bounds.hardTimeoutSlackMs`): only a value of the call's own loader (`epoch`) that waited for
   * a timer, on the wall clock: the call's timeout timer was set first and fires first, whereas a
   * value that needed no timer may arrive late through a long run of promise reactions with no
   * timer phase between them.
   */
  checkWait(
    instance: number,
    tenant: Tenant,
    key: string,
    startedAt: number,
    value: unknown,
    hardTimeout: number,
    deadline: Deadline | undefined,
    what: string,
    epoch?: CallEpoch,
  ): void {
    if (deadline !== undefined) clearTimeout(deadline.timer);
    if (hardTimeout <= 0 || value === null || typeof value !== 'object') return;
    const run = (value as Row).run;
    const r = run === undefined ? undefined : this.#runs.find((x) => x.run === run);
    if (deadline !== undefined) {
      const passedAt = deadline.passedAt;
      if (passedAt !== undefined && r?.endEvent !== undefined && r.endEvent > passedAt) {
        this.#violate(
          `${what} on instance ${instance} for ${rowId(tenant, key)} (hardTimeout ${hardTimeout} ms) returned the value of loader run ${r.run}, which returned ${Math.round((r.end ?? startedAt) - startedAt)} ms after the call started, once the hardTimeout had run out: it waited past its hardTimeout`,
        );
      }
      return;
    }
    const slack = this.bounds.hardTimeoutSlackMs;
    const at = (value as Row).at;
    if (slack === undefined || this.clocks === undefined || typeof at !== 'number') return;
    if (r === undefined || r.call !== epoch || !r.paused) return;
    // Memory runs: the logical times' wall clock (their loaders and timers take real time).
    const [loaded, started] = [this.#instants.get(at)?.wall, this.#instants.get(startedAt)?.wall];
    if (loaded === undefined || started === undefined) return;
    // A loader that resumed after the event loop was blocked stamps a late time although its
    // value was due (and delivered) before the call's timer, as in Redis runs (see `deadline`).
    if (loaded > started + hardTimeout + slack + this.#wallStalls.between(started, loaded)) {
      this.#violate(
        `${what} on instance ${instance} for ${rowId(tenant, key)} (hardTimeout ${hardTimeout} ms) returned a value loaded ${Math.round(loaded - started)} ms after it started: it waited past its hardTimeout`,
      );
    }
  }

  /**
   * Checks why a call on `instance` for `tenant`/`key`, started at `startedAt`, failed.
   * `hardTimeout`: the call's own (ms); a `LoaderTimeoutError` is allowed only when it is > 0
   * (undefined: whenever `Bounds.hardTimeout`).
   */
  checkError(instance: number, tenant: Tenant, key: string, startedAt: number, err: unknown, what: string, hardTimeout?: number): void {
    const id = rowId(tenant, key);
    if (err instanceof LoaderFailure) {
      const r = this.#runs.find((x) => x.failure === err);
      if (r === undefined || r.instance !== instance || r.id !== id) {
        this.#violate(`${what} on instance ${instance} for ${id} got another call's loader error (${err.message})`);
      } else if (r.delivered !== undefined && r.delivered < startedAt) {
        this.#violate(`${what} on instance ${instance} for ${id} got the error of loader run ${r.run}, which failed before the call started (a cached error)`);
      }
      return;
    }
    if ((err as Error)?.name === 'LoaderTimeoutError' && (hardTimeout === undefined ? this.bounds.hardTimeout : hardTimeout > 0)) return;
    this.#violate(`${what} on instance ${instance} for ${id} failed although no loader of it failed: ${(err as Error)?.stack ?? String(err)}`);
  }

  /**
   * Whether a read of `id` on `instance` at `at` comes after every copy `e` replaced may have
   * lived there (see `Bounds.landed`): `e` settled before it (every instance's calls made before
   * had ended, what the tier holds is newer), the L1 copies those calls made have expired (the
   * widest `l1Ttl` they asked for, on the wall clock) and, for a tag, its time learnt before was
   * read again (`tagKnownForMs`, on the engines' clock). Calls made after it settled read the new
   * state from the tier.
   */
  #landedFor(e: Invalidation, instance: number, id: string, at: number): boolean {
    const landed = this.bounds.landed;
    if (landed === undefined || e.settledAt === undefined || e.settledClocks === undefined || !(e.settledAt < at)) return false;
    const read = this.#instants.get(at);
    if (read === undefined) return false;
    const settledAt = e.settledAt;
    const { wall, engine } = e.settledClocks;
    if (landed.l1) {
      const l1Ttl = Math.max(0, ...(this.#l1TtlsAt.get(`${instance} ${id}`) ?? []).filter((c) => c.at < settledAt).map((c) => c.ms));
      if (!(read.wall > wall + l1Ttl + landed.slackMs)) return false;
    }
    return !e.tags || read.engine > engine + landed.tagKnownForMs + landed.slackMs;
  }

  /**
   * A loader run of `id` with the lease starts on `instance` for a call made at `calledAt` while
   * other instances' runs with the lease still run, every one of them with its own `hardTimeout`:
   * the call waited on their lease, which lapses within `hardTimeout` + `leaseTtl` of the latest
   * one's start (README: a hung loader renews its lease for at most `hardTimeout`; engine ms).
   */
  #checkLeaseWait(instance: number, id: string, calledAt: number, now: number): void {
    const ttl = this.bounds.leaseTtlMs;
    if (ttl === undefined) return;
    const holders = this.#runs.filter((o) => o.id === id && o.instance !== instance && o.lock && o.end === undefined);
    if (holders.length === 0 || holders.some((o) => !((o.call.hardTimeout ?? 0) > 0))) return;
    const from = Math.max(calledAt, ...holders.map((o) => o.start));
    if (this.#faultBetween(from, now) || this.#evictionBetween(id, from, now)) return;
    const h = Math.max(...holders.map((o) => o.call.hardTimeout!));
    const [a, b] = [this.#instants.get(from)?.engine, this.#instants.get(now)?.engine];
    if (a === undefined || b === undefined) return;
    if (b > a + h + ttl + LEASE_SLACK_MS) {
      this.#violate(
        `a loader of ${id} on instance ${instance} started ${Math.round(b - a)} ms after its call began waiting on the lease of hung run(s) ${holders.map((o) => `${o.run}@${o.instance}`).join(', ')}: a holder keeps it at most its hardTimeout (${h} ms) + leaseTtl (${ttl} ms)`,
      );
    }
  }

  /**
   * The other half of `#checkLeaseWait`: a call that got the value of another instance's run with
   * the lease, made after the call started, waited on that lease; a run whose call has its own
   * `hardTimeout` keeps it at most that + `leaseTtl`, and its store after the lease lapsed is refused.
   */
  #checkHungValue(instance: number, id: string, startedAt: number, row: Row, what: string): void {
    const ttl = this.bounds.leaseTtlMs;
    if (ttl === undefined || row.run === undefined) return;
    const r = this.#runs.find((x) => x.run === row.run);
    const h = r?.call.hardTimeout ?? 0;
    if (r === undefined || r.instance === instance || !r.lock || h <= 0 || r.end === undefined || r.end < startedAt) return;
    const from = Math.max(r.start, startedAt);
    if (this.#faultBetween(from, r.end) || this.#evictionBetween(id, from, r.end)) return;
    const [a, b] = [this.#instants.get(from)?.engine, this.#instants.get(r.end)?.engine];
    if (a === undefined || b === undefined) return;
    if (b > a + h + ttl + LEASE_SLACK_MS) {
      this.#violate(
        `${what} on instance ${instance} got ${id} from loader run ${r.run} on instance ${r.instance}, which ended ${Math.round(b - a)} ms after the call began waiting on its lease: a holder keeps it at most its hardTimeout (${h} ms) + leaseTtl (${ttl} ms)`,
      );
    }
  }

  /**
   * Whether another instance's eviction of `id` may have been delivered to `instance` since `from`:
   * within `busMs` of its call resolving, or — unconfirmed — of its retry announcing it again,
   * not counting the time the event loop was blocked (see `watchStalls`).
   */
  #evictionDeliveredDuring(id: string, instance: number, from: number): boolean {
    if (!this.bounds.bus && !this.bounds.tracking) return false;
    return (this.#invalidations.get(id) ?? []).some(
      (e) =>
        e.instance !== instance &&
        (e.resolvedAt === undefined ||
          e.resolvedAt + this.bounds.busMs + (e.unconfirmed ? (this.bounds.redeliveryMs ?? 0) : 0) + this.#stalls.between(e.resolvedAt, from) >= from),
    );
  }

  /**
   * Whether an invalidation of `id` on `instance` itself may have landed there at `from` or later:
   * one not resolved by then. Invoked before `from`, it counts in the epoch of a call made at
   * `from`, yet it may supersede that call's load (README: loads in flight during an eviction are
   * forgotten, so a later caller starts afresh rather than getting what was read before it).
   */
  #ownEvictionLandingAfter(id: string, instance: number, from: number): boolean {
    return (this.#invalidations.get(id) ?? []).some((e) => e.instance === instance && (e.resolvedAt === undefined || e.resolvedAt >= from));
  }

  /** Whether an invalidation of `id` may have landed between `from` and `to`. */
  #evictionBetween(id: string, from: number, to: number): boolean {
    return (this.#invalidations.get(id) ?? []).some((e) => e.invokedAt <= to && (e.resolvedAt === undefined || e.resolvedAt >= from));
  }

  /** Whether a Redis command failed since the earlier of two calls was made (see `tierTrouble`). */
  #troubleSince(a: CallEpoch, b: CallEpoch): boolean {
    if (this.tierTrouble === undefined || a.trouble === undefined || b.trouble === undefined) return false;
    return this.tierTrouble() > Math.min(a.trouble, b.trouble);
  }

  #faultBetween(from: number, to: number): boolean {
    return this.#faults.some((f) => f.from <= to && f.to >= from);
  }

  /**
   * Whether another instance's eviction of `id` that a fault left perhaps unconfirmed may have
   * been announced to `instance` since `from`: such a write is announced once its retry lands
   * (README: "retried every second and on recovery until Redis confirms them, then announced"),
   * which in memory runs may be batches later (on `resume()`), any time until it settled (fuzz
   * seed 1233927936).
   */
  #lateAnnouncementDuring(id: string, instance: number, from: number): boolean {
    if (!this.bounds.bus && !this.bounds.tracking) return false;
    return (this.#invalidations.get(id) ?? []).some(
      (e) =>
        e.instance !== instance &&
        e.resolvedAt !== undefined &&
        (e.settledAt === undefined || e.settledAt >= from) &&
        this.#faultBetween(e.invokedAt, e.resolvedAt),
    );
  }

  #violate(message: string): void {
    this.violations.push(message);
    throw new PropertyViolation(message);
  }
}
