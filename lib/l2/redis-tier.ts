import { Logger } from '@nestjs/common';
import { escapeGlob } from '../keys/cache-key.util.js';
import {
  CLEAR_TTL,
  clearMarkerKey,
  FAILED,
  LEASED,
  leaseKey,
  type Outcome,
  type Raw,
  type SharedTier,
  type Subscription,
  type Tracking,
  type TrackingListener,
  VERSION_TTL,
  versionKey,
  versionWithClear,
  waitersKey,
  writeTime,
} from '../shared/shared-tier.interface.js';
import type { CacheStats } from '../stats/cache-stats.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { type Deadline, DeadlineQueue } from './deadline-queue.js';
import type { LuaScript } from './lua-script.js';
import { groupBySlot, keySlot, SLOTS, slotTag } from './key-slot.js';
import { clusterPrimaries, isCluster, type OwnedClient, type RedisClient, secretsOf, usesTls } from './redis-connection.js';
import { type Diagnosis, diagnose, isPermissionRefusal, type L2Problem } from './redis-diagnosis.js';
import { describeMissing, findMissingPermissions, type MissingPermission } from './redis-permissions.js';
import { ACQUIRE, DELETE, EXTEND, FILL, LEASE_SCRIPTS, MARK_CLEAR, PUT, PUT_IF_VERSION, READ_OR_LEASE, RELEASE } from './redis-scripts.js';
import { RedisSubscription } from './redis-subscription.js';
import { RedisTracking } from './redis-tracking.js';
import { OwnWrites } from './own-writes.js';

/** Most commands allowed to wait for a reply at once; beyond it Redis is treated as away. */
const MAX_PENDING = 10_000;
const SCAN_BATCH = 500;
/** Clear markers written per round trip on a Cluster (one per hash slot, 16 384 in all). */
const MARK_BATCH = 512;

/**
 * The shared tier on Redis. Every command is bounded by `timeoutMs`; a failure or a timeout is counted and
 * reported to the caller as FAILED, never thrown. While the connection is not ready, commands are
 * not sent at all, except during start-up, when they wait for the first connection within the
 * timeout (so a fresh instance reads Redis from its first call).
 */
export class RedisTier implements SharedTier {
  readonly client: RedisClient;
  readonly owned: boolean;
  #pending = 0;
  readonly #idle: (() => void)[] = [];
  #everReady = false;
  /** Until `connect()` has waited, commands wait for the first connection (within the timeout). */
  #startingUp = true;
  #down = false;
  #closed = false;
  #firstReady: Promise<void>;
  readonly #logger = new Logger('TieredCache');
  /** Why the last connection attempt failed; cleared by `ready`. */
  #failure: Diagnosis | undefined;
  /** What the last permission check found missing (empty when all is granted or unchecked). */
  #missing: readonly MissingPermission[] = [];
  #probe: { keyPrefix: string; channel: string } | undefined;
  /** Time a permission probe may wait for each reply: the bootstrap's connect wait. */
  #probeTimeoutMs: number;
  readonly #secrets: readonly string[];
  readonly #tls: boolean;

  readonly breaker: CircuitBreaker;
  readonly #deadlines = new DeadlineQueue();
  /** Value writes of this instance, while tracking runs (their echoes are checked, not obeyed). */
  #own: OwnWrites | undefined;

  constructor(
    { client, owned }: OwnedClient,
    /** Whether values are bytes (binary serializers): they are then read as Buffers. */
    private readonly binary: boolean,
    private readonly timeoutMs: number,
    private readonly stats: CacheStats,
    breaker: ResolvedOptions['breaker'] = false,
  ) {
    this.client = client;
    this.owned = owned;
    this.#secrets = secretsOf(client);
    this.#tls = usesTls(client);
    this.#probeTimeoutMs = Math.max(timeoutMs, 1_000);
    this.breaker = new CircuitBreaker(
      breaker,
      (n) => {
        this.#logger.warn(`Redis failed ${n} times in a row: not sending it reads for ${breaker ? breaker.openFor : 0} ms (circuit breaker open).`);
        this.#emit(this.#onTrouble);
      },
      () => {
        this.#logger.log('Redis answers again: circuit breaker closed.');
        this.#emit(this.#onRecovered);
      },
    );
    this.#everReady = client.status === 'ready';
    this.#firstReady = this.#everReady ? Promise.resolve() : new Promise((resolve) => client.once('ready', () => resolve()));
    client.on('ready', this.#onReady);
    client.on('error', this.#onError);
    client.on('end', this.#onDown);
    client.on('close', this.#onDown);
  }

  readonly #onTrouble: (() => void)[] = [];
  readonly #onRecovered: (() => void)[] = [];

  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * What keeps the shared tier from working fully: a connection that fails (`auth`, `tls`,
   * `unreachable`) or, while connected, missing ACL permissions (`permission`); undefined when
   * all is well (or while the first connection is still being waited for).
   */
  get problem(): L2Problem | undefined {
    if (this.client.status === 'ready') return this.#missing.length > 0 ? 'permission' : undefined;
    if (this.#failure !== undefined) return this.#failure.problem;
    return this.#startingUp || this.#closed ? undefined : 'unreachable';
  }

  /** The message for `problem`, naming the fix; never holds a secret. */
  get problemMessage(): string | undefined {
    const problem = this.problem;
    if (problem === undefined) return undefined;
    if (this.client.status === 'ready') return describeMissing(this.#missing);
    return this.#failure?.message ?? 'Redis is not reachable (no answer yet): serving from L1 and loaders until it connects.';
  }

  /** ACL rules (`+publish`, `~prefix*`, ...) the Redis user lacks, from the last check. */
  get missingPermissions(): readonly MissingPermission[] {
    return this.#missing;
  }

  /**
   * Checks, on the first connection and every reconnection, that the Redis user may run every
   * command the library sends (see `findMissingPermissions`), and logs once what is missing and
   * what it costs. Call before `connect()`.
   */
  checkPermissionsOnReady(keyPrefix: string, channel: string): void {
    this.#probe = { keyPrefix, channel };
  }

  async #checkPermissions(): Promise<void> {
    if (this.#probe === undefined || this.#closed) return;
    const missing = await findMissingPermissions(this.client, { ...this.#probe, timeoutMs: this.#probeTimeoutMs });
    if (this.#closed) return;
    const before = this.#missing.map((m) => m.rule).join(' ');
    this.#missing = missing;
    if (missing.map((m) => m.rule).join(' ') === before) return;
    if (missing.length > 0) this.#logger.error(describeMissing(missing));
    else this.#logger.log('The Redis user now has every permission the cache needs.');
  }

  /**
   * `trouble`: the connection dropped or the breaker opened (waiters should stop waiting on
   * Redis). `recovered`: the connection is ready again or the breaker closed (retry what failed).
   */
  on(event: 'trouble' | 'recovered', listener: () => void): () => void {
    const list = event === 'trouble' ? this.#onTrouble : this.#onRecovered;
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i !== -1) list.splice(i, 1);
    };
  }

  #emit(listeners: readonly (() => void)[]): void {
    for (const l of listeners) l();
  }

  /**
   * Connects (if the client is lazy) and waits for the first `ready` at most `waitMs`
   * milliseconds, or until the first connection error. Never throws: the app starts degraded.
   */
  async connect(waitMs: number): Promise<void> {
    if (this.#everReady) {
      this.#startingUp = false;
      await this.#checkPermissions();
      return;
    }
    this.#probeTimeoutMs = Math.max(this.timeoutMs, waitMs);
    if (this.client.status === 'wait') this.client.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    let onError: (() => void) | undefined;
    await Promise.race([
      this.#firstReady,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
        onError = () => resolve();
        this.client.once('error', onError);
      }),
    ]);
    clearTimeout(timer);
    if (onError) this.client.off('error', onError);
    this.#startingUp = false;
    if (this.#everReady) {
      await this.#checkPermissions();
      return;
    }
    this.#down = true;
    const failure = this.#failure;
    if (failure === undefined) {
      const hint = this.#tls ? ': check the host and port, and that the port speaks TLS' : '';
      this.#logger.warn(`Redis is not reachable (no answer within ${waitMs} ms${hint}): serving from L1 and loaders until it connects.`);
    } else if (failure.problem === 'unreachable') {
      this.#logger.warn(failure.message);
    } else {
      // Wrong credentials, TLS settings or ACL do not heal by waiting: the app starts (a cache
      // problem never fails it), but loudly, and the health indicator reports down.
      this.#logger.error(failure.message);
    }
  }

  get(key: string): Promise<Outcome<Raw | null>> {
    // The hottest command (every L2 hit): no closure of its own, see `#call`.
    return this.#call<string, Raw | null, Outcome<Raw | null>>(this.binary ? this.#getBuffer : this.#getString, key, identity, failed);
  }

  getVersioned(key: string): Promise<Outcome<{ raw: Raw | null; version: string }>> {
    const keys = [key, versionKey(key), this.#clearMarker(key)];
    return this.#call(
      runThunk,
      (): Promise<(Raw | null)[]> => (this.binary ? this.client.mgetBuffer(...keys) : this.client.mget(...keys)),
      ([raw, version, marker]: (Raw | null)[]): Outcome<{ raw: Raw | null; version: string }> => ({
        raw: raw ?? null,
        version: versionWithClear(version, marker),
      }),
      failed,
    );
  }

  put(key: string, raw: Raw, ttl: number, at = writeTime(), resent = false): Promise<Outcome<true>> {
    this.#own?.record(key, raw);
    // A write replaces what other instances may serve: it goes through an open breaker, like a delete.
    const args = [raw, ttlArg(ttl), VERSION_TTL, at.toFixed(3), resent ? '1' : '0'];
    return this.#script(PUT, [key, leaseKey(key), versionKey(key), this.#clearMarker(key)], args, true).then(okOrFailed);
  }

  putIfVersion(key: string, raw: Raw, ttl: number, version: string): Promise<Outcome<boolean>> {
    this.#own?.record(key, raw);
    return this.#script(PUT_IF_VERSION, [key, versionKey(key), this.#clearMarker(key)], [raw, ttlArg(ttl), version]).then(boolOrFailed);
  }

  /**
   * The clear marker a script checks for `key`. A script may only touch keys of one hash slot, so
   * on a Cluster every slot has a marker of its own (`…__clear:v1{tag}`, the tag chosen to hash to
   * that slot) and `clear()` writes all of them.
   */
  #clearMarker(key: string): string {
    const marker = clearMarkerKey(key);
    return isCluster(this.client) ? `${marker}{${slotTag(keySlot(key))}}` : marker;
  }

  /**
   * Deletes are invalidations: they are sent even while the circuit breaker is open (still
   * bounded by the timeout), so a breaker never keeps a stale value in Redis. On a Cluster, one
   * script per hash slot (a command may not span slots), sent together, with one outcome.
   */
  del(keys: readonly string[], at = writeTime()): Promise<Outcome<true>> {
    if (keys.length === 0) return Promise.resolve(true);
    if (this.#own !== undefined) for (const k of keys) this.#own.record(k, null);
    const groups = isCluster(this.client) ? groupBySlot(keys) : [keys];
    const send = (g: readonly string[]) =>
      this.#evalsha(
        DELETE,
        g.flatMap((k) => [k, leaseKey(k), versionKey(k)]),
        [VERSION_TTL, at.toFixed(3)],
      );
    return this.#run(() => Promise.all(groups.map(send)), true).then(okOrFailed);
  }

  /** Deletes every key under `prefix` (SCAN + UNLINK in batches, never KEYS). */
  async delPrefix(prefix: string): Promise<Outcome<true>> {
    return okOrFailed(await this.#deleteMatching(`${escapeGlob(prefix)}*`));
  }

  /**
   * Marks the clear first, so a write dated before it that lands during the SCAN (behind its
   * cursor) or after it is dropped by its script; then deletes as `delPrefix`. On a Cluster the
   * 16 384 slot markers go in batches of {@link MARK_BATCH}, each bounded by the timeout.
   */
  async clear(prefix: string, at = writeTime()): Promise<Outcome<true>> {
    const marker = clearMarkerKey(prefix);
    const args = [at.toFixed(3), CLEAR_TTL];
    if (!isCluster(this.client)) {
      if ((await this.#script(MARK_CLEAR, [marker], args, true)) === FAILED) return FAILED;
    } else {
      for (let from = 0; from < SLOTS; from += MARK_BATCH) {
        const mark = () => {
          const batch: Promise<unknown>[] = [];
          for (let slot = from; slot < Math.min(SLOTS, from + MARK_BATCH); slot++) batch.push(this.#evalsha(MARK_CLEAR, [`${marker}{${slotTag(slot)}}`], args));
          return Promise.all(batch);
        };
        if ((await this.#run(mark, true)) === FAILED) return FAILED;
      }
    }
    return this.delPrefix(prefix);
  }

  acquire(key: string, token: string, ttl: number, checkValue: boolean): Promise<Outcome<'acquired' | 'exists' | number>> {
    return this.#script(ACQUIRE, [leaseKey(key), key, waitersKey(key)], [token, ttlArg(ttl), checkValue ? '1' : '0']) as Promise<
      Outcome<'acquired' | 'exists' | number>
    >;
  }

  readOrLease(key: string, token: string, ttl: number): Promise<Outcome<Raw | typeof LEASED | number>> {
    const keys = [key, leaseKey(key), waitersKey(key)];
    const args = [token, ttlArg(ttl)];
    return this.#run(() => this.#evalsha(READ_OR_LEASE, keys, args, this.binary)).then(leasedOrRaw);
  }

  extend(key: string, token: string, ttl: number): Promise<Outcome<boolean>> {
    return this.#script(EXTEND, [leaseKey(key)], [token, ttlArg(ttl)]).then(boolOrFailed);
  }

  fill(key: string, token: string, raw: Raw, ttl: number, channel: string, message: string, since?: number, always = true): Promise<Outcome<boolean>> {
    this.#own?.record(key, raw);
    const args = [token, raw, ttlArg(ttl), channel, message, since === undefined ? '' : since.toFixed(3), always ? '1' : '0'];
    return this.#script(FILL, [key, leaseKey(key), this.#clearMarker(key), waitersKey(key)], args).then(boolOrFailed);
  }

  release(key: string, token: string): Promise<Outcome<boolean>> {
    return this.#script(RELEASE, [leaseKey(key)], [token], true).then(boolOrFailed);
  }

  getMarkers(keys: readonly string[]): Promise<Outcome<(string | null)[]>> {
    // One GET each: markers of different tags live in different Cluster slots.
    return this.#run(() => Promise.all(keys.map((k) => this.client.get(k))));
  }

  setMarker(key: string, value: string, ttl: number): Promise<Outcome<true>> {
    return this.#run(() => this.client.set(key, value, 'PX', ttlArg(ttl)), true).then(okOrFailed);
  }

  publish(channel: string, message: string): Promise<Outcome<true>> {
    return this.#run(() => this.client.publish(channel, message), true).then(okOrFailed);
  }

  subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Subscription {
    return new RedisSubscription(this.client, channel, onMessage, onGap);
  }

  track(prefix: string, listener: TrackingListener): Tracking {
    this.#own = new OwnWrites();
    return new RedisTracking(this.client, prefix, listener, this.owned, this.#own, this.timeoutMs);
  }

  /**
   * Deletes every key matching a SCAN pattern, in batches (never KEYS). On a Cluster, every
   * primary is scanned, in parallel; if the known primaries do not cover every hash slot (a
   * failover is under way) the delete is reported FAILED rather than silently partial.
   */
  async #deleteMatching(pattern: string): Promise<Outcome<number>> {
    if (!this.connected) {
      this.stats.l2Skipped++;
      return FAILED;
    }
    const nodes = isCluster(this.client) ? clusterPrimaries(this.client) : [this.client];
    if (nodes === undefined) {
      this.stats.l2Errors++;
      return FAILED;
    }
    const counts = await Promise.all(nodes.map((node) => this.#deleteMatchingOn(node, pattern)));
    if (counts.includes(FAILED)) return FAILED;
    return (counts as number[]).reduce((a, b) => a + b, 0);
  }

  /** SCAN of one server (a Cluster primary, or the only Redis), deleting what matches. */
  async #deleteMatchingOn(node: RedisClient, pattern: string): Promise<Outcome<number>> {
    let cursor = '0';
    let deleted = 0;
    do {
      const page = await this.#run(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH), true);
      if (page === FAILED) return FAILED;
      cursor = page[0];
      if (page[1].length > 0) {
        const n = await this.#unlink(page[1]);
        if (n === FAILED) return FAILED;
        deleted += n;
      }
    } while (cursor !== '0');
    return deleted;
  }

  /** UNLINK of keys as they are (split per slot on a Cluster). */
  #unlink(keys: readonly string[]): Promise<Outcome<number>> {
    const client = this.client;
    if (!isCluster(client)) return this.#run(() => client.unlink(...keys), true);
    const groups = groupBySlot(keys);
    return this.#run(() => Promise.all(groups.map((g) => client.unlink(...g))).then((ns) => ns.reduce((a, b) => a + b, 0)), true);
  }

  /** Round-trip time of a PING in milliseconds; rejects when Redis does not answer in time. */
  async ping(): Promise<number> {
    const start = performance.now();
    const reply = await this.#run(() => this.client.ping());
    if (reply === FAILED) throw new Error('Redis did not answer PING within l2Timeout');
    return performance.now() - start;
  }

  /** Closes the client if the library created it; a client passed in is left open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.client.off('ready', this.#onReady);
    this.client.off('end', this.#onDown);
    this.client.off('close', this.#onDown);
    if (!this.owned) {
      await this.#drain(this.timeoutMs);
      this.client.off('error', this.#onError);
      return;
    }
    if (this.client.status === 'ready') {
      // Writes still in flight (a load's value, a lease release, an invalidation) go out before
      // QUIT: an app that stops right after a load must not leave its lease to expire unfilled.
      await this.#drain(this.timeoutMs);
      await Promise.race([this.client.quit().catch(() => undefined), delay(this.timeoutMs)]);
    }
    // Stops reconnect attempts too, for a client that never connected.
    this.client.disconnect(false);
    this.client.off('error', this.#onError);
  }

  /** SCRIPT LOAD of every script (after a connect or a Redis restart, which forgets them). */
  async loadScripts(): Promise<void> {
    await Promise.all(LEASE_SCRIPTS.map((s) => this.#run(() => this.client.script('LOAD', s.body))));
  }

  /** Runs a Lua script by SHA (sending its body once if Redis does not know it yet). */
  #script(s: LuaScript, keys: readonly string[], args: readonly (string | number | Buffer)[], critical = false): Promise<Outcome<unknown>> {
    return this.#run(() => this.#evalsha(s, keys, args), critical);
  }

  /** `bytes`: bulk replies as Buffers (a script that returns values of binary serializers). */
  #evalsha(s: LuaScript, keys: readonly string[], args: readonly (string | number | Buffer)[], bytes = false): Promise<unknown> {
    // ioredis has the Buffer forms of EVALSHA and EVAL but does not declare them (and `callBuffer`
    // loses its command name under auto-pipelining).
    const client = this.client as RedisClient & BufferScripts;
    const [evalsha, evaluate] = bytes ? [client.evalshaBuffer, client.evalBuffer] : [client.evalsha, client.eval];
    return evalsha.call(client, s.sha, keys.length, ...keys, ...args).catch((err: Error) => {
      if (!err.message.startsWith('NOSCRIPT')) throw err;
      return evaluate.call(client, s.body, keys.length, ...keys, ...args);
    });
  }

  readonly #getString = (key: string): Promise<Raw | null> => this.client.get(key);
  readonly #getBuffer = (key: string): Promise<Raw | null> => this.client.getBuffer(key);

  #run<T>(command: () => Promise<T>, critical = false): Promise<Outcome<T>> {
    return this.#call<() => Promise<T>, T, Outcome<T>>(runThunk, command, identity, failed, critical);
  }

  /**
   * Sends `command(arg)` unless Redis is away; resolves with `onReply(reply)`, or `onFail()` when
   * it was not sent, failed or timed out. A command and its argument rather than one closure: the
   * hot commands then allocate nothing to be sent.
   */
  #call<A, T, R>(command: (arg: A) => Promise<T>, arg: A, onReply: (reply: T) => R, onFail: () => R, critical = false): Promise<R> {
    if (this.client.status !== 'ready') {
      if (!this.#startingUp || this.#everReady || this.#closed) {
        this.stats.l2Skipped++;
        return settled(onFail);
      }
      // Start-up: wait for the first connection within the timeout.
      return this.#withTimeout(
        this.#firstReady.then(() => this.#send(command, arg)),
        onReply,
        onFail,
      );
    }
    if (!critical && !this.breaker.allow()) {
      this.stats.l2Skipped++;
      return settled(onFail);
    }
    return this.#withTimeout(this.#send(command, arg), onReply, onFail);
  }

  /** Resolves once no command awaits a reply, or after `ms`. */
  #drain(ms: number): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return Promise.race([new Promise<void>((r) => this.#idle.push(r)), delay(ms)]);
  }

  #settled(): void {
    if (--this.#pending === 0 && this.#idle.length > 0) for (const r of this.#idle.splice(0)) r();
  }

  #send<A, T>(command: (arg: A) => Promise<T>, arg: A): Promise<T> {
    if (this.#pending >= MAX_PENDING) return Promise.reject(new Error('too many pending Redis commands'));
    this.#pending++;
    return command(arg);
  }

  /**
   * The reply, mapped, or FAILED on error or after `timeoutMs` (one shared timer for all pending
   * commands). A command that outlives its timeout still completes and is counted when it does.
   */
  #withTimeout<T, R>(p: Promise<T>, onReply: (reply: T) => R, onFail: () => R): Promise<R> {
    const d = new PendingCommand<T, R>(this.#hooks, performance.now() + this.timeoutMs, onReply, onFail);
    this.#deadlines.push(d);
    const reply = new Promise<R>((resolve, reject) => {
      d.resolve = resolve;
      d.reject = reject;
    });
    p.then(
      (v) => d.replied(v),
      (err: unknown) => d.refused(err),
    );
    return reply;
  }

  /** What a pending command reports back (one object per tier, shared by every command). */
  readonly #hooks: PendingHooks = {
    settled: () => this.#settled(),
    answered: (d) => {
      this.#deadlines.remove(d);
      this.breaker.success();
    },
    refused: (d, err) => {
      this.#deadlines.remove(d);
      this.stats.l2Errors++;
      // An ACL refusal is an answer: opening the breaker would also stop the commands the
      // user may run. The permission check names what is missing.
      if (isPermissionRefusal(err)) this.breaker.success();
      else this.breaker.failure();
    },
    expired: () => {
      this.stats.l2Timeouts++;
      this.breaker.failure();
    },
    afterExpiry: () => this.#emit(this.#onTrouble),
  };

  readonly #onReady = (): void => {
    this.#everReady = true;
    this.#failure = undefined;
    // After a connect or a Redis restart (which forgets scripts): the first miss pays no NOSCRIPT.
    void this.loadScripts();
    this.#emit(this.#onRecovered);
    if (this.#down) this.#logger.log('Redis connection ready: using the shared tier.');
    this.#down = false;
    // On the first connection, connect() checks before the app starts.
    if (!this.#startingUp) void this.#checkPermissions();
  };

  readonly #onDown = (): void => {
    if (!this.#closed) this.#emit(this.#onTrouble);
    if (this.#closed || this.#down || !this.#everReady) return;
    this.#down = true;
    this.#logger.warn('Redis connection lost: serving from L1 and loaders while it reconnects.');
  };

  readonly #onError = (err: Error): void => {
    if (this.#closed) return;
    const failure = diagnose(err, this.#tls, !this.#everReady, this.#secrets);
    const changed = failure.problem !== this.#failure?.problem;
    this.#failure = failure;
    // Connection errors repeat on every retry: only a change of problem is logged. During start-up
    // connect() logs the outcome; a connection that just dropped is logged by #onDown.
    if (!changed || this.#startingUp || !this.#down) return;
    if (failure.problem === 'unreachable') this.#logger.warn(failure.message);
    else this.#logger.error(failure.message);
  };
}

/** The Buffer-reply forms of EVALSHA and EVAL, which ioredis defines without declaring them. */
interface BufferScripts {
  evalshaBuffer(sha: string, numKeys: number, ...keysAndArgs: (string | number | Buffer)[]): Promise<unknown>;
  evalBuffer(script: string, numKeys: number, ...keysAndArgs: (string | number | Buffer)[]): Promise<unknown>;
}

interface PendingHooks {
  settled(): void;
  answered(d: Deadline): void;
  refused(d: Deadline, err: unknown): void;
  expired(): void;
  afterExpiry(): void;
}

/**
 * A command awaiting its reply or its deadline, whichever comes first (a class, so a command
 * costs one small object rather than a closure per outcome).
 */
class PendingCommand<T, R> implements Deadline {
  settled = false;
  prev: Deadline | undefined = undefined;
  next: Deadline | undefined = undefined;
  resolve: (r: R) => void = noop;
  reject: (err: unknown) => void = noop;

  constructor(
    private readonly hooks: PendingHooks,
    readonly at: number,
    private readonly onReply: (reply: T) => R,
    private readonly onFail: () => R,
  ) {}

  replied(v: T): void {
    this.hooks.settled();
    if (this.settled) return;
    this.settled = true;
    this.hooks.answered(this);
    this.#finish(this.onReply, v);
  }

  refused(err: unknown): void {
    this.hooks.settled();
    if (this.settled) return;
    this.settled = true;
    this.hooks.refused(this, err);
    this.#finish(this.onFail, undefined);
  }

  /** Called by the deadline queue (which marks it settled): a reply arriving later is only counted. */
  expire(): void {
    this.hooks.expired();
    this.#finish(this.onFail, undefined);
    this.hooks.afterExpiry();
  }

  #finish<V>(f: (v: V) => R, v: V): void {
    try {
      this.resolve(f(v));
    } catch (err) {
      this.reject(err);
    }
  }
}

function noop(): void {}

function runThunk<T>(command: () => Promise<T>): Promise<T> {
  return command();
}

function identity<T>(v: T): T {
  return v;
}

function failed(): typeof FAILED {
  return FAILED;
}

function okOrFailed(r: unknown): Outcome<true> {
  return r === FAILED ? FAILED : true;
}

/** READ_OR_LEASE's reply: -1 for a lease taken, another integer for the holder's ms left, else the value. */
function leasedOrRaw(r: unknown): Outcome<Raw | typeof LEASED | number> {
  if (r === FAILED) return FAILED;
  if (typeof r === 'number') return r === -1 ? LEASED : r;
  return r as Raw;
}

function boolOrFailed(r: unknown): Outcome<boolean> {
  return r === FAILED ? FAILED : r === 1;
}

/** A TTL as Redis takes it: whole milliseconds, at least 1. */
function ttlArg(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

function settled<R>(f: () => R): Promise<R> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
