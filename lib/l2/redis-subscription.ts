import { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import type { Subscription } from '../shared/shared-tier.interface.js';
import { guardSockets, type RedisClient } from './redis-connection.js';

/**
 * A subscription on a connection of its own (a subscribed connection cannot send other
 * commands), which the library creates and closes. It queues SUBSCRIBE until connected and
 * re-subscribes by itself after a reconnect; `onGap` runs when it comes back after being away.
 * Not ioredis's `autoResubscribe` on a standalone connection: ioredis drops that SUBSCRIBE's
 * promise, so a close while it waits for its reply was an unhandled rejection, which ends a
 * Node process.
 */
export class RedisSubscription implements Subscription {
  readonly #sub: RedisClient;
  #subscribed = false;
  #away = false;
  #closed = false;
  readonly #cluster: boolean;

  constructor(
    client: RedisClient,
    private readonly channel: string,
    private readonly onMessage: (message: string) => void,
    private readonly onGap: () => void,
  ) {
    this.#cluster = (client as Cluster).isCluster === true;
    // A Cluster re-subscribes through its own subscriber connection (handled there).
    const options = { lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: this.#cluster };
    this.#sub = guardSockets(
      this.#cluster
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

  async close(): Promise<void> {
    this.#closed = true;
    this.#sub.off('close', this.#onClose);
    this.#sub.off('ready', this.#onReady);
    this.#sub.disconnect(false);
  }

  readonly #onRaw = (channel: string, message: string): void => {
    if (channel === this.channel) this.onMessage(message);
  };

  readonly #onClose = (): void => {
    if (this.#closed) return;
    const wasSubscribed = this.#subscribed;
    if (!this.#cluster) {
      // The next `ready` subscribes again (see the class comment).
      this.#subscribed = false;
      this.#subscribing = undefined;
    }
    if (!wasSubscribed || this.#away) return;
    this.#away = true;
    new Logger('TieredCache').warn('Invalidation bus disconnected: L1 entries may be stale until it reconnects.');
  };

  readonly #onReady = (): void => {
    if (!this.#subscribed && !this.#closed) void this.#subscribe();
    if (!this.#away) return;
    this.#away = false;
    // Messages sent while the subscriber was away are lost.
    this.onGap();
  };
}
