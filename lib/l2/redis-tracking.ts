import { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import type { Tracking, TrackingListener, TrackingStatus } from '../shared/shared-tier.interface.js';
import { SLOTS } from './key-slot.js';
import type { OwnWrites } from './own-writes.js';
import { isCluster, type RedisClient } from './redis-connection.js';
import { RETRY_MS, ServerTracking } from './server-tracking.js';

/** What may change which connections serve as primaries. */
const CLUSTER_EVENTS = ['refresh', '+node', '-node', 'ready'];

/**
 * Tracking on a single Redis (or the primary a Sentinel set names: both connections ask the
 * sentinels on every reconnect), or on every primary of a Cluster, each with a redirect target on
 * the same node, following the slot map through failovers and topology changes.
 */
export class RedisTracking implements Tracking {
  readonly #servers = new Map<Redis, ServerTracking>();
  readonly #logger = new Logger('TieredCache');
  readonly #cluster: Cluster | undefined;
  #refusal: string | undefined;
  #closed = false;
  /** Once `start()` returned, the app may serve: tracking coming on anywhere later is a gap. */
  #started = false;
  #follow: NodeJS.Timeout | undefined;
  #waiting: (() => void)[] = [];

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    private readonly listener: TrackingListener,
    /** Whether the library owns the client (else tracking is switched off on close). */
    private readonly owned: boolean,
    private readonly own: OwnWrites,
    /** Longest wait for the read that tells an echo of this instance's own write, in milliseconds. */
    private readonly timeoutMs: number,
  ) {
    if (isCluster(client)) this.#cluster = client;
  }

  get status(): TrackingStatus {
    if (this.#refusal !== undefined) return 'refused';
    if (this.#closed || this.#servers.size === 0) return 'connecting';
    for (const s of this.#servers.values()) if (!s.on) return 'connecting';
    if (this.#cluster !== undefined && !this.#coversCluster()) return 'connecting';
    return 'on';
  }

  get refusal(): string | undefined {
    return this.#refusal;
  }

  /** Switches tracking on, waiting at most `waitMs` for it to be on (or refused). Never throws. */
  async start(waitMs: number): Promise<void> {
    if (this.#cluster === undefined) this.#add(this.client as Redis);
    else {
      // Only now: a node connected while the Cluster is still connecting keeps it from being ready.
      for (const event of CLUSTER_EVENTS) this.#cluster.on(event, this.#reconcile);
      this.#reconcile();
    }
    if (this.status === 'connecting' && waitMs > 0) {
      await Promise.race([new Promise<void>((r) => this.#waiting.push(r)), new Promise((r) => setTimeout(r, waitMs).unref())]);
    }
    this.#started = true;
    if (this.status === 'connecting' && this.client.status === 'ready') {
      this.#logger.warn('CLIENT TRACKING is not on yet: L1 copies are invalidated by the bus only until it is (then L1 is dropped).');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#follow);
    if (this.#cluster !== undefined) for (const event of CLUSTER_EVENTS) this.#cluster.off(event, this.#reconcile);
    await Promise.all([...this.#servers.values()].map((s) => s.close(!this.owned)));
    this.#servers.clear();
  }

  #add(node: Redis): void {
    this.#servers.set(
      node,
      new ServerTracking(node, this.prefix, this.listener, this.#established, this.#changed, this.own, this.timeoutMs, this.#cluster !== undefined),
    );
  }

  /** Cluster: one tracking per primary connection; those of nodes no longer primaries go. */
  readonly #reconcile = (): void => {
    if (this.#closed || this.#refusal !== undefined || this.#cluster === undefined || this.#cluster.status !== 'ready') return;
    const primaries = new Set(this.#cluster.nodes('master'));
    for (const [node, s] of this.#servers) {
      if (primaries.has(node) && node.status !== 'end') continue;
      this.#servers.delete(node);
      void s.close(false);
    }
    for (const node of primaries) if (!this.#servers.has(node) && node.status !== 'end') this.#add(node);
    this.#changed();
  };

  /** Whether every hash slot is served by a primary whose tracking is on. */
  #coversCluster(): boolean {
    const byAddress = new Map<string, ServerTracking>();
    for (const [node, s] of this.#servers) byAddress.set(`${node.options.host}:${node.options.port}`, s);
    const slots = this.#cluster!.slots;
    for (let slot = 0; slot < SLOTS; slot++) {
      const owner = slots[slot]?.[0];
      if (owner === undefined || !byAddress.get(owner)?.on) return false;
    }
    return true;
  }

  /** Before `start()` returned nothing was served; after it, or on a connection's second time, it is a gap. */
  readonly #established = (again: boolean): void => {
    if (again || this.#started) this.listener.resumed();
  };

  readonly #changed = (): void => {
    if (this.#refusal === undefined) {
      const refused = [...this.#servers.values()].find((s) => s.refusal !== undefined);
      if (refused !== undefined) {
        this.#refusal = refused.refusal;
        this.#logger.warn(
          `Redis refused CLIENT TRACKING (${this.#refusal}): L1 copies are invalidated by the bus only, so a change made ` +
            'outside this library (another client, expiry, eviction, FLUSHDB) ends them only at l1.ttl.',
        );
        for (const s of this.#servers.values()) void s.close(false);
        this.#servers.clear();
      }
    }
    if (this.status !== 'connecting') for (const r of this.#waiting.splice(0)) r();
    else if (this.#cluster !== undefined) this.#followCluster();
  };

  /**
   * While some slot has no tracked primary (a primary died, a failover is under way), ask the
   * Cluster for its slot map every second, so the new primary is tracked as soon as it serves.
   */
  #followCluster(): void {
    if (this.#follow !== undefined || this.#closed || this.#refusal !== undefined) return;
    this.#follow = setTimeout(() => {
      this.#follow = undefined;
      if (this.#closed || this.status !== 'connecting') return;
      this.#cluster!.refreshSlotsCache(() => this.#reconcile());
      this.#followCluster();
    }, RETRY_MS);
    this.#follow.unref();
  }
}
