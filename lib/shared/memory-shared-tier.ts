import {
  CLEAR_TTL,
  clearMarkerKey,
  clearTimeOf,
  FAILED,
  LEASED,
  leaseKey,
  type Outcome,
  type Raw,
  type SharedTier,
  type Subscription,
  VERSION_TTL,
  versionKey,
  versionWithClear,
  waitersKey,
  writeTime,
} from './shared-tier.interface.js';

/**
 * Decides when a tier's reply or a bus delivery happens: `(p) => p` runs them in order; a
 * fast-check scheduler's `s.schedule` lets the property choose the interleaving.
 */
export type Schedule = <T>(step: Promise<T>, label: string) => Promise<T>;

/** Delivers (or delays, drops, reorders) one bus message to one subscriber: call `deliver()` to hand it over. */
export type DeliveryHook = (message: string, deliver: () => void) => void;

interface Stored {
  value: Raw;
  /** Epoch ms (from the broker's clock) at which the key is gone. */
  expiresAt: number;
}

export interface MemoryBrokerOptions {
  /** The clock keys expire by, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Every command's execution, every reply and every bus delivery passes through it. Default: none. */
  schedule?: Schedule;
}

/**
 * What several in-memory tiers share, as several app instances share one Redis: the keys (with
 * millisecond expiry on the broker's clock) and the pub/sub channels. Its fault controls act on
 * every tier, as a stopped or killed Redis would.
 */
export class MemoryBroker {
  readonly now: () => number;
  schedule: Schedule | undefined;
  readonly #keys = new Map<string, Stored>();
  readonly #tiers = new Set<MemorySharedTier>();
  #down = false;
  #hung = false;
  /** Commands sent while hung: like a SIGSTOPped Redis, it runs them when it resumes. */
  readonly #frozen: (() => void)[] = [];

  constructor(options: MemoryBrokerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.schedule = options.schedule;
  }

  /** A new instance's connection to this broker. */
  tier(options: MemorySharedTierOptions = {}): MemorySharedTier {
    const tier = new MemorySharedTier(this, options);
    this.#tiers.add(tier);
    return tier;
  }

  get down(): boolean {
    return this.#down;
  }

  get hung(): boolean {
    return this.#hung;
  }

  /** Redis killed (true) / back, with its data (false): commands fail at once, subscriptions break. */
  setDown(down: boolean): void {
    if (this.#down === down) return;
    this.#down = down;
    for (const t of this.#tiers) t.reachabilityChanged();
  }

  /**
   * Redis stopped (SIGSTOP, true) / resumed (SIGCONT, false): commands get no reply (they fail
   * after each tier's timeout) and run when it resumes; deliveries wait too.
   */
  setHung(hung: boolean): void {
    if (this.#hung === hung) return;
    this.#hung = hung;
    if (!hung) for (const run of this.#frozen.splice(0)) run();
    for (const t of this.#tiers) t.reachabilityChanged();
  }

  /** Redis restarted empty: every key is gone. */
  flush(): void {
    this.#keys.clear();
  }

  /** The live keys (for assertions): expired ones are not listed. */
  keys(): string[] {
    return [...this.#keys.keys()].filter((k) => this.read(k) !== null);
  }

  /** @internal Runs a command on the store now, or when a hung broker resumes. */
  execute(run: () => void): void {
    if (this.#hung) this.#frozen.push(run);
    else run();
  }

  /** @internal */
  read(key: string): Raw | null {
    const s = this.#keys.get(key);
    if (s === undefined) return null;
    if (s.expiresAt <= this.now()) {
      this.#keys.delete(key);
      return null;
    }
    return s.value;
  }

  /** @internal Remaining life in ms, or -2 when absent (as PTTL). */
  pttl(key: string): number {
    return this.read(key) === null ? -2 : this.#keys.get(key)!.expiresAt - this.now();
  }

  /** @internal */
  write(key: string, value: Raw, ttl: number): void {
    if (!(ttl > 0)) throw new RangeError(`MemorySharedTier: every key needs a TTL > 0 ms (got ${ttl} for "${key}")`);
    this.#keys.set(key, { value, expiresAt: this.now() + ttl });
  }

  /** @internal */
  remove(key: string): void {
    this.#keys.delete(key);
  }

  /**
   * @internal The next write version of `key`, `<latest write time>:<count>` (as the Redis
   * scripts): returns the latest write time it held before (0 for none).
   */
  bumpVersion(key: string, at: number): number {
    const vk = versionKey(key);
    const [t = 0, n = 0] = (this.read(vk)?.toString() ?? '0:0').split(':').map(Number);
    this.write(vk, `${Math.max(t, at)}:${n + 1}`, VERSION_TTL);
    return t;
  }

  /** @internal The time of the latest clear of the cache `key` belongs to (0 for none). */
  clearedAt(key: string): number {
    return clearTimeOf(this.read(clearMarkerKey(key)));
  }

  /** @internal The version `getVersioned` reports: the key's write version and its cache's clear marker. */
  version(key: string): string {
    return versionWithClear(this.read(versionKey(key)), this.read(clearMarkerKey(key)));
  }

  /** @internal */
  removePrefix(prefix: string): void {
    for (const k of [...this.#keys.keys()]) if (k.startsWith(prefix)) this.#keys.delete(k);
  }

  /** @internal Hands `message` to every subscription of `channel` (each drops or delays it as its faults say). */
  publish(channel: string, message: string): void {
    for (const t of this.#tiers) t.receive(channel, message);
  }

  /** @internal */
  detach(tier: MemorySharedTier): void {
    this.#tiers.delete(tier);
  }
}

export interface MemorySharedTierOptions {
  /** How long a command waits for a reply from a hung broker before it fails, in ms. Default 250. */
  timeoutMs?: number;
  /** Added to every bus delivery to this tier, in ms (real or fake timers). Default 0. */
  busDelay?: number;
  /** Intercepts every bus delivery to this tier (delay, drop, reorder). Default: deliver. */
  deliver?: DeliveryHook;
}

/**
 * A real in-memory implementation of {@link SharedTier} (not a mock), one per simulated
 * instance, sharing a {@link MemoryBroker}. Faults of this instance's connection only:
 * `setDown` (its connection dropped) and `dropMessages` (its subscriber disconnected: messages
 * are lost, and `onGap` runs when it comes back).
 */
export class MemorySharedTier implements SharedTier {
  readonly timeoutMs: number;
  busDelay: number;
  deliver: DeliveryHook | undefined;
  #down = false;
  #dropping = false;
  #closed = false;
  /** Whether the last state listeners heard of was 'trouble'. */
  #troubled = false;
  readonly #trouble = new Set<() => void>();
  readonly #recovered = new Set<() => void>();
  readonly #subscriptions = new Set<MemorySubscription>();
  /** One connection: commands run on the store in the order this instance sent them. */
  #sent: Promise<unknown> = Promise.resolve();
  /** Commands that timed out against a hung broker (for tests that count them). */
  timeouts = 0;

  constructor(
    readonly broker: MemoryBroker,
    options: MemorySharedTierOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 250;
    this.busDelay = options.busDelay ?? 0;
    this.deliver = options.deliver;
    // Born while the broker is down: its coming back is this tier's recovery too.
    this.#troubled = broker.down;
  }

  get connected(): boolean {
    return !this.#closed && !this.#down && !this.broker.down;
  }

  /** This instance's connection dropped (true) or reconnected (false); the broker keeps its data. */
  setDown(down: boolean): void {
    if (this.#down === down) return;
    this.#down = down;
    this.reachabilityChanged();
  }

  /** This instance's subscriber disconnected (`CLIENT KILL TYPE pubsub`): messages are lost until false. */
  dropMessages(drop: boolean): void {
    if (this.#dropping === drop) return;
    this.#dropping = drop;
    for (const s of this.#subscriptions) s.reachabilityChanged();
  }

  /** Whether this instance's subscriber can receive now. */
  get receiving(): boolean {
    return this.connected && !this.#dropping;
  }

  /** @internal The broker or this connection went down or came back. */
  reachabilityChanged(): void {
    const bad = !this.connected || this.broker.hung;
    // A hung broker is only noticed through timeouts (see #command), as with Redis.
    if (!this.connected && !this.#troubled) this.#emit(true);
    else if (!bad && this.#troubled) this.#emit(false);
    for (const s of this.#subscriptions) s.reachabilityChanged();
  }

  #emit(trouble: boolean): void {
    if (this.#closed) return;
    this.#troubled = trouble;
    for (const l of [...(trouble ? this.#trouble : this.#recovered)]) l();
  }

  async connect(waitMs: number): Promise<void> {
    if (this.connected || waitMs <= 0) return;
    await new Promise<void>((resolve) => {
      const off = this.on('recovered', done);
      const timer = setTimeout(done, waitMs);
      function done() {
        off();
        clearTimeout(timer);
        resolve();
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of [...this.#subscriptions]) await s.close();
    this.#trouble.clear();
    this.#recovered.clear();
    this.broker.detach(this);
  }

  on(event: 'trouble' | 'recovered', listener: () => void): () => void {
    const set = event === 'trouble' ? this.#trouble : this.#recovered;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * One command: fails at once when not connected; runs on the store in send order (a hung
   * broker runs it when it resumes), with the schedule deciding when it runs and when its reply
   * arrives; a reply that does not come within `timeoutMs` is a failure (the command may still
   * have run, as with Redis). A connection that drops before the reply fails it too.
   */
  #command<T>(label: string, run: () => T): Promise<Outcome<T>> {
    if (!this.connected) return Promise.resolve(FAILED);
    const schedule = this.broker.schedule;
    const ran = this.#sent.then(() => (schedule ? schedule(Promise.resolve(), `${label}:run`) : undefined));
    this.#sent = ran;
    const executed = new Promise<Outcome<T>>((resolve) => {
      void ran.then(() => {
        if (!this.connected) return resolve(FAILED);
        this.broker.execute(() => resolve(this.connected ? run() : FAILED));
      });
    });
    const replied = schedule ? executed.then((v) => schedule(Promise.resolve(v), `${label}:reply`)) : executed;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timeouts++;
        // A hung broker is noticed through timeouts only, as with Redis (breaker opening).
        if (this.broker.hung && !this.#troubled) this.#emit(true);
        resolve(FAILED);
      }, this.timeoutMs);
      void replied.then((v) => {
        clearTimeout(timer);
        resolve(this.connected ? v : FAILED);
      });
    });
  }

  /**
   * A key without a positive TTL is a bug in the caller (every shared key must expire): it
   * rejects, unlike every failure of the tier itself, so a test sees it.
   */
  #timed<T>(key: string, ttl: number, label: string, run: () => T): Promise<Outcome<T>> {
    if (!(ttl > 0) || !Number.isFinite(ttl)) {
      return Promise.reject(new RangeError(`MemorySharedTier: every key needs a finite TTL > 0 ms (got ${ttl} for "${key}")`));
    }
    return this.#command(label, run);
  }

  get(key: string): Promise<Outcome<Raw | null>> {
    return this.#command(`get ${key}`, () => this.broker.read(key));
  }

  getVersioned(key: string): Promise<Outcome<{ raw: Raw | null; version: string }>> {
    return this.#command(`getVersioned ${key}`, () => ({
      raw: this.broker.read(key),
      version: this.broker.version(key),
    }));
  }

  put(key: string, raw: Raw, ttl: number, at = writeTime(), resent = false): Promise<Outcome<true>> {
    return this.#timed(key, ttl, `put ${key}`, () => {
      // Older than a clear that landed: as if it had landed before it (and been deleted by it).
      if (this.broker.clearedAt(key) >= at) return true as const;
      const t = this.broker.bumpVersion(key, at);
      if (t > at || (t === at && resent)) return true as const;
      this.broker.remove(leaseKey(key));
      this.broker.write(key, raw, ttl);
      return true as const;
    });
  }

  putIfVersion(key: string, raw: Raw, ttl: number, version: string): Promise<Outcome<boolean>> {
    return this.#timed(key, ttl, `putIfVersion ${key}`, () => {
      if (this.broker.version(key) !== version) return false;
      this.broker.write(key, raw, ttl);
      return true;
    });
  }

  del(keys: readonly string[], at = writeTime()): Promise<Outcome<true>> {
    return this.#command(`del ${keys.join(',')}`, () => {
      for (const k of keys) {
        this.broker.remove(k);
        this.broker.remove(leaseKey(k));
        this.broker.bumpVersion(k, at);
      }
      return true as const;
    });
  }

  delPrefix(prefix: string): Promise<Outcome<true>> {
    return this.#command(`delPrefix ${prefix}`, () => {
      this.broker.removePrefix(prefix);
      return true as const;
    });
  }

  clear(prefix: string, at = writeTime()): Promise<Outcome<true>> {
    return this.#command(`clear ${prefix}`, () => {
      const marker = clearMarkerKey(prefix);
      this.broker.write(marker, String(Math.max(at, clearTimeOf(this.broker.read(marker)))), CLEAR_TTL);
      this.broker.removePrefix(prefix);
      return true as const;
    });
  }

  acquire(key: string, token: string, ttl: number, checkValue: boolean): Promise<Outcome<'acquired' | 'exists' | number>> {
    return this.#timed(key, ttl, `acquire ${key}`, () => {
      if (checkValue && this.broker.read(key) !== null) return 'exists' as const;
      const lk = leaseKey(key);
      if (this.broker.read(lk) === null) {
        this.broker.write(lk, token, ttl);
        return 'acquired' as const;
      }
      return this.#held(key);
    });
  }

  readOrLease(key: string, token: string, ttl: number): Promise<Outcome<Raw | typeof LEASED | number>> {
    return this.#timed(key, ttl, `readOrLease ${key}`, () => {
      const raw = this.broker.read(key);
      if (raw !== null) return raw;
      const lk = leaseKey(key);
      if (this.broker.read(lk) !== null) return this.#held(key);
      this.broker.write(lk, token, ttl);
      return LEASED;
    });
  }

  /** The holder's remaining lease, noting a waiter for as long (plus a second), as the Lua `held`. */
  #held(key: string): number {
    const left = Math.max(0, this.broker.pttl(leaseKey(key)));
    this.broker.write(waitersKey(key), '1', left + 1_000);
    return left;
  }

  extend(key: string, token: string, ttl: number): Promise<Outcome<boolean>> {
    return this.#timed(key, ttl, `extend ${key}`, () => {
      const lk = leaseKey(key);
      if (this.broker.read(lk) !== token) return false;
      this.broker.write(lk, token, ttl);
      return true;
    });
  }

  fill(key: string, token: string, raw: Raw, ttl: number, channel: string, message: string, since?: number, always = true): Promise<Outcome<boolean>> {
    return this.#timed(key, ttl, `fill ${key}`, () => {
      const lk = leaseKey(key);
      if (this.broker.read(lk) !== token) return false;
      // Loaded before a clear: not stored, but the lease is freed and waiters told, as by a fill.
      const stale = since !== undefined && this.broker.clearedAt(key) >= since;
      if (!stale) this.broker.write(key, raw, ttl);
      this.broker.remove(lk);
      const waited = this.broker.read(waitersKey(key)) !== null;
      this.broker.remove(waitersKey(key));
      if (waited || always) this.broker.publish(channel, message);
      return !stale;
    });
  }

  release(key: string, token: string): Promise<Outcome<boolean>> {
    return this.#command(`release ${key}`, () => {
      const lk = leaseKey(key);
      if (this.broker.read(lk) !== token) return false;
      this.broker.remove(lk);
      return true;
    });
  }

  getMarkers(keys: readonly string[]): Promise<Outcome<(string | null)[]>> {
    return this.#command(`getMarkers ${keys.join(',')}`, () => keys.map((k) => this.broker.read(k)?.toString() ?? null));
  }

  setMarker(key: string, value: string, ttl: number): Promise<Outcome<true>> {
    return this.#timed(key, ttl, `setMarker ${key}`, () => {
      this.broker.write(key, value, ttl);
      return true as const;
    });
  }

  publish(channel: string, message: string): Promise<Outcome<true>> {
    return this.#command(`publish ${channel}`, () => {
      this.broker.publish(channel, message);
      return true as const;
    });
  }

  subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Subscription {
    const s = new MemorySubscription(this, channel, onMessage, onGap);
    this.#subscriptions.add(s);
    return s;
  }

  async ping(): Promise<number> {
    const reply = await this.#command('ping', () => 0);
    if (reply === FAILED) throw new Error('MemorySharedTier: not answering');
    return reply;
  }

  /** @internal A message published on the broker, for this tier's subscriptions. */
  receive(channel: string, message: string): void {
    for (const s of this.#subscriptions) if (s.channel === channel) s.receive(message);
  }

  /** @internal */
  unsubscribe(s: MemorySubscription): void {
    this.#subscriptions.delete(s);
  }
}

/** One subscriber connection: delivers in publish order, loses messages while disconnected. */
class MemorySubscription implements Subscription {
  #started = false;
  #closed = false;
  /** Disconnected since it started: messages may have been lost; `onGap` runs when it is back. */
  #gap = false;
  /** Deliveries in order: each waits for the one before (a connection's messages never overtake). */
  #delivered: Promise<unknown> = Promise.resolve();

  constructor(
    readonly tier: MemorySharedTier,
    readonly channel: string,
    readonly onMessage: (message: string) => void,
    readonly onGap: () => void,
  ) {}

  get connected(): boolean {
    return this.#started && !this.#closed && this.tier.receiving;
  }

  async start(waitMs: number): Promise<void> {
    this.#started = true;
    if (!this.tier.receiving) {
      this.#gap = true;
      await this.tier.connect(waitMs);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.tier.unsubscribe(this);
  }

  reachabilityChanged(): void {
    if (!this.#started || this.#closed) return;
    if (!this.tier.receiving) this.#gap = true;
    else if (this.#gap) {
      this.#gap = false;
      this.onGap();
    }
  }

  receive(message: string): void {
    if (!this.connected) {
      if (this.#started) this.#gap = true;
      return;
    }
    const schedule = this.tier.broker.schedule;
    const delay = this.tier.busDelay;
    const previous = this.#delivered;
    this.#delivered = new Promise<void>((done) => {
      const handOver = () => {
        if (this.#closed) return done();
        const hook = this.tier.deliver;
        if (hook) hook(message, () => this.onMessage(message));
        else this.onMessage(message);
        done();
      };
      const afterDelay = () => (delay > 0 ? setTimeout(handOver, delay) : handOver());
      void previous.then(() => (schedule ? schedule(Promise.resolve(), `deliver ${message}`).then(afterDelay) : afterDelay()));
    });
  }
}
