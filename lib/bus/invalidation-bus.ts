import { Logger } from '@nestjs/common';
import { FAILED, type SharedTier, type Subscription } from '../shared/shared-tier.interface.js';
import type { CacheStats } from '../stats/cache-stats.js';
import { type BusMessage, busChannel, parseBusMessage } from './bus-message.js';

/** Most messages kept for a retry while the shared tier cannot take them; past it the oldest go. */
const MAX_UNSENT = 10_000;

/**
 * Pub/sub between the instances that share a `keyPrefix`, through the shared tier. Publishing
 * never delays a caller; receiving uses a subscription of its own. When the subscription comes
 * back after a gap (messages may have been missed), `onGap` runs so the instance can drop what it
 * can no longer trust.
 */
export class InvalidationBus {
  readonly channel: string;
  readonly #sub: Subscription;
  readonly #logger = new Logger('TieredCache');
  readonly #unsent: string[] = [];
  #closed = false;

  constructor(
    private readonly shared: SharedTier,
    keyPrefix: string,
    readonly instanceId: string,
    private readonly stats: CacheStats,
    private readonly onMessage: (m: BusMessage) => void,
    private readonly onGap: () => void,
    /** Whether invalidations are announced (`bus` option); lease wake-ups always are. */
    private readonly announce = true,
  ) {
    this.channel = busChannel(keyPrefix);
    this.#sub = shared.subscribe(this.channel, this.#onRaw, this.#onGap);
  }

  get connected(): boolean {
    return this.#sub.connected;
  }

  /** Subscribes, waiting at most `waitMs`; never throws. */
  start(waitMs: number): Promise<void> {
    return this.#sub.start(waitMs);
  }

  /**
   * Publishes in the background, even while the circuit breaker is open: an invalidation must
   * reach the others. A message that cannot be sent is counted and kept for `retry()` (the
   * oldest are dropped past 10 000; the receivers' L1 TTL then bounds what they miss).
   */
  publish(o: BusMessage['o'], k?: readonly string[], t?: number): void {
    if (this.#closed || (!this.announce && o !== 'release')) return;
    this.#send(this.encode(o, k, t));
  }

  /** The wire form of a message from this instance (also published by the lease's store script). */
  encode(o: BusMessage['o'], k?: readonly string[], t?: number): string {
    const m: BusMessage = { i: this.instanceId, o };
    if (k !== undefined) m.k = k;
    if (t !== undefined) m.t = t;
    return JSON.stringify(m);
  }

  /** Sends again what could not be sent (after the shared tier recovers). */
  retry(): void {
    for (const raw of this.#unsent.splice(0)) this.#send(raw);
  }

  get pending(): number {
    return this.#unsent.length;
  }

  #send(raw: string): void {
    this.stats.busPublished++;
    void this.shared.publish(this.channel, raw).then((r) => {
      if (r !== FAILED || this.#closed) return;
      this.stats.busPublishFailures++;
      if (this.#unsent.length >= MAX_UNSENT) this.#unsent.shift();
      this.#unsent.push(raw);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#sub.close();
  }

  readonly #onRaw = (raw: string): void => {
    const m = parseBusMessage(raw);
    if (m === undefined || m.i === this.instanceId) return;
    this.stats.busReceived++;
    this.onMessage(m);
  };

  readonly #onGap = (): void => {
    if (this.#closed) return;
    // Invalidations sent while the subscriber was away are lost: drop everything they might cover.
    this.onGap();
    this.#logger.log('Invalidation bus reconnected: dropped L1 entries that may have missed invalidations.');
  };
}
