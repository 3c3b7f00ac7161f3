import { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { guardSockets, type RedisClient } from '../l2/redis-connection.js';
import { FAILED, type RedisTier } from '../l2/redis-tier.js';
import type { CacheStats } from '../stats/cache-stats.js';
import { type BusMessage, busChannel, parseBusMessage } from './bus-message.js';

/**
 * Redis pub/sub between the instances that share a `keyPrefix`. Publishing goes through the
 * command connection and never delays a caller; receiving uses a dedicated subscriber
 * connection, which the library creates and closes. When the subscriber comes back after a gap
 * (messages may have been missed), `onGap` runs so the instance can drop what it can no longer
 * trust.
 */
export class InvalidationBus {
  readonly channel: string;
  readonly #sub: RedisClient;
  readonly #logger = new Logger('TieredCache');
  #subscribed = false;
  readonly #unsent: string[] = [];
  #gap = false;
  #closed = false;

  constructor(
    private readonly tier: RedisTier,
    keyPrefix: string,
    readonly instanceId: string,
    private readonly stats: CacheStats,
    private readonly onMessage: (m: BusMessage) => void,
    private readonly onGap: () => void,
  ) {
    this.channel = busChannel(keyPrefix);
    // A subscriber connection cannot send other commands; it queues SUBSCRIBE until connected
    // and re-subscribes by itself after a reconnect.
    const options = { lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true };
    const client = tier.client;
    this.#sub = guardSockets(
      (client as Cluster).isCluster
        ? (client as Cluster).duplicate(undefined, { lazyConnect: true, enableOfflineQueue: true, redisOptions: options })
        : (client as Redis).duplicate(options),
    );
    this.#sub.on('message', this.#onRaw);
    this.#sub.on('error', () => undefined);
    this.#sub.on('close', this.#onClose);
    this.#sub.on('ready', this.#onReady);
  }

  get connected(): boolean {
    return this.#subscribed && this.#sub.status === 'ready';
  }

  /** Connects and subscribes, waiting at most `waitMs`; never throws. */
  async start(waitMs: number): Promise<void> {
    this.#sub.connect().catch(() => undefined);
    await Promise.race([this.#subscribe(), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  #subscribing: Promise<void> | undefined;

  /**
   * SUBSCRIBE, once at a time. A refused connection (wrong password, TLS) rejects the queued
   * SUBSCRIBE and ioredis only re-subscribes channels that were subscribed: the next `ready`
   * subscribes again.
   */
  #subscribe(): Promise<void> {
    this.#subscribing ??= this.#sub.subscribe(this.channel).then(
      () => {
        this.#subscribed = true;
      },
      () => {
        this.#subscribing = undefined;
      },
    );
    return this.#subscribing;
  }

  /**
   * Publishes in the background, even while the circuit breaker is open: an invalidation must
   * reach the others. A message that cannot be sent is counted and kept for `retry()` (the
   * oldest are dropped past 10 000; the receivers' L1 TTL then bounds what they miss).
   */
  publish(o: BusMessage['o'], k?: readonly string[], t?: number): void {
    if (this.#closed) return;
    this.#send(this.encode(o, k, t));
  }

  /** The wire form of a message from this instance (also published by the lease's store script). */
  encode(o: BusMessage['o'], k?: readonly string[], t?: number): string {
    const m: BusMessage = { i: this.instanceId, o };
    if (k !== undefined) m.k = k;
    if (t !== undefined) m.t = t;
    return JSON.stringify(m);
  }

  /** Sends again what could not be sent (after Redis recovers). */
  retry(): void {
    for (const raw of this.#unsent.splice(0)) this.#send(raw);
  }

  get pending(): number {
    return this.#unsent.length;
  }

  #send(raw: string): void {
    this.stats.busPublished++;
    void this.tier.exec((c) => c.publish(this.channel, raw), true).then((r) => {
      if (r !== FAILED || this.#closed) return;
      this.stats.busPublishFailures++;
      if (this.#unsent.length >= 10_000) this.#unsent.shift();
      this.#unsent.push(raw);
    });
  }


  async close(): Promise<void> {
    this.#closed = true;
    this.#sub.off('close', this.#onClose);
    this.#sub.off('ready', this.#onReady);
    this.#sub.disconnect(false);
  }

  readonly #onRaw = (channel: string, raw: string): void => {
    if (channel !== this.channel) return;
    const m = parseBusMessage(raw);
    if (m === undefined || m.i === this.instanceId) return;
    this.stats.busReceived++;
    this.onMessage(m);
  };

  readonly #onClose = (): void => {
    if (this.#closed || !this.#subscribed) return;
    if (!this.#gap) this.#logger.warn('Invalidation bus disconnected: L1 entries may be stale until it reconnects.');
    this.#gap = true;
  };

  readonly #onReady = (): void => {
    if (!this.#subscribed) void this.#subscribe();
    if (!this.#gap) return;
    this.#gap = false;
    // Invalidations sent while the subscriber was away are lost: drop everything they might cover.
    this.onGap();
    this.#logger.log('Invalidation bus reconnected: dropped L1 entries that may have missed invalidations.');
  };
}
