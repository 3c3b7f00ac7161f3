import { Logger } from '@nestjs/common';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Tracking, TrackingListener, TrackingStatus } from '../shared/shared-tier.interface.js';
import { SLOTS } from './key-slot.js';
import { isCluster, type RedisClient } from './redis-connection.js';
import { type OwnWrites, sameBytes } from './own-writes.js';

/** The channel a RESP2 redirect target receives invalidations on. */
const INVALIDATE = '__redis__:invalidate';
const RETRY_MS = 1_000;
/** What may change which connections serve as primaries. */
const CLUSTER_EVENTS = ['refresh', '+node', '-node', 'ready'];

/** Replies that mean the server will not track at all (old Redis, ACL, managed Redis). */
const REFUSAL = /unknown command|unknown subcommand|NOPERM|not allowed|disabled|wrong number of arguments|syntax error/i;

/** The settings of a redirect target: RESP2 (invalidations arrive as pub/sub messages), its own reconnects. */
const REDIRECT: RedisOptions = {
  protocol: 2,
  lazyConnect: true,
  // Commands only on a ready connection: its `ready` handler does the set-up in order.
  enableOfflineQueue: false,
  autoResubscribe: false,
  readOnly: false,
  retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
};

/**
 * Server-assisted invalidation (`CLIENT TRACKING`) for one Redis server: the command connection
 * tracks every key under the prefix (`BCAST PREFIX`, `NOLOOP`: not its own writes) and redirects
 * the invalidations to a RESP2 connection of its own, subscribed to `__redis__:invalidate`.
 *
 * Tracking belongs to a connection, and the redirect target's client id changes when it
 * reconnects: whenever either connection becomes ready, tracking is switched on again (OFF and ON
 * in one MULTI, so there is no instant without it), and the changes made meanwhile, which were not
 * reported, are accounted for by `onEstablished`.
 */
class ServerTracking {
  readonly #redirect: Redis;
  #redirectId: number | undefined;
  #on = false;
  #everOn = false;
  #attempt = 0;
  #redirectEpoch = 0;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  refusal: string | undefined;

  constructor(
    private readonly command: Redis,
    private readonly prefix: string,
    private readonly listener: TrackingListener,
    /** Tracking is on; `again`: not for the first time on this connection. */
    private readonly onEstablished: (again: boolean) => void,
    private readonly onChange: () => void,
    private readonly own: OwnWrites,
    private readonly timeoutMs: number,
  ) {
    this.#redirect = command.duplicate(REDIRECT);
    this.#redirect.on('error', () => undefined);
    this.#redirect.on('messageBuffer', this.#onMessage);
    this.#redirect.on('ready', this.#onRedirectReady);
    this.#redirect.on('close', this.#onRedirectClose);
    command.on('ready', this.#enable);
    command.on('close', this.#onClose);
    this.#redirect.connect().catch(() => undefined);
    if (command.status === 'wait') command.connect().catch(() => undefined);
  }

  get on(): boolean {
    return this.#on;
  }

  /** Stops tracking: the redirect target closes; a connection the user passed in is left as found. */
  async close(leaveOff: boolean): Promise<void> {
    this.#closed = true;
    this.#on = false;
    clearTimeout(this.#retry);
    this.command.off('ready', this.#enable);
    this.command.off('close', this.#onClose);
    this.#redirect.off('close', this.#onRedirectClose);
    this.#redirect.disconnect(false);
    if (leaveOff && this.command.status === 'ready') await this.command.call('CLIENT', 'TRACKING', 'OFF').catch(() => undefined);
  }

  readonly #onRedirectReady = async (): Promise<void> => {
    const epoch = ++this.#redirectEpoch;
    this.#redirectId = undefined;
    try {
      // CLIENT ID first: a RESP2 connection in subscriber mode takes no other command.
      const id = Number(await this.#redirect.client('ID'));
      await this.#redirect.subscribe(INVALIDATE);
      if (epoch !== this.#redirectEpoch || this.#closed) return;
      this.#redirectId = id;
      await this.#enable();
    } catch (err) {
      if (epoch === this.#redirectEpoch) this.#failed(err as Error);
    }
  };

  readonly #enable = async (): Promise<void> => {
    const id = this.#redirectId;
    if (this.#closed || this.refusal !== undefined || id === undefined || this.command.status !== 'ready') return;
    const attempt = ++this.#attempt;
    clearTimeout(this.#retry);
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.command
        .multi()
        .call('CLIENT', 'TRACKING', 'OFF')
        .call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', this.prefix, 'NOLOOP')
        .exec();
    } catch (err) {
      const previous = (err as { previousErrors?: Error[] }).previousErrors ?? [];
      return this.#failed(previous[0] ?? (err as Error));
    }
    const error = replies?.find(([e]) => e !== null)?.[0] ?? (replies === null ? new Error('MULTI aborted') : undefined);
    if (error) return this.#failed(error);
    if (attempt !== this.#attempt || this.#closed || this.#redirectId !== id) return;
    if (this.command.status !== 'ready' || this.#redirect.status !== 'ready') return;
    this.#on = true;
    this.onEstablished(this.#everOn);
    this.#everOn = true;
    this.onChange();
  };

  #failed(err: Error): void {
    if (this.#closed) return;
    if (REFUSAL.test(err.message)) {
      this.refusal = err.message;
      this.#on = false;
      this.#redirect.disconnect(false);
      this.onChange();
      return;
    }
    // A connection dropped meanwhile (its `ready` starts over), or the redirect target was
    // replaced: try again shortly, with whatever is ready then.
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      if (this.#redirect.status !== 'ready') return;
      void (this.#redirectId === undefined ? this.#onRedirectReady() : this.#enable());
    }, RETRY_MS);
    this.#retry.unref();
  }

  readonly #onRedirectClose = (): void => {
    this.#redirectEpoch++;
    this.#redirectId = undefined;
    this.#onClose();
  };

  readonly #onClose = (): void => {
    if (!this.#on) return;
    this.#on = false;
    this.onChange();
  };

  readonly #onMessage = (channel: Buffer, message: Buffer | Buffer[] | null): void => {
    if (channel.toString() !== INVALIDATE) return;
    // A null (or empty) message: FLUSHDB/FLUSHALL, or the server dropped its tracking state.
    if (message === null || (Array.isArray(message) && message.length === 0)) return this.listener.flush();
    // A plain string: someone PUBLISHed on the channel; not an invalidation.
    if (!Array.isArray(message)) return;
    let report: string[] | undefined;
    for (const k of message) {
      const key = k.toString();
      const raw = this.own.recent(key);
      if (raw === undefined) (report ??= []).push(key);
      else void this.#check(key, raw);
    }
    if (report !== undefined) this.listener.keys(report);
  };

  /**
   * A change to a key this instance wrote or deleted moments ago: most likely the echo of its own
   * change (see OwnWrites). Reported unless Redis holds exactly what was left there here — read on the
   * connection that wrote it, so after that write; a failed or slow read is reported too.
   */
  async #check(key: string, raw: Buffer | string | null): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stored = await Promise.race([
      this.command.getBuffer(key).catch(() => undefined),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.timeoutMs))),
    ]);
    clearTimeout(timer);
    if (stored !== undefined && sameBytes(stored, raw)) return;
    if (!this.#closed) this.listener.keys([key]);
  }
}

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
      await Promise.race([
        new Promise<void>((r) => this.#waiting.push(r)),
        new Promise((r) => setTimeout(r, waitMs).unref()),
      ]);
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
    this.#servers.set(node, new ServerTracking(node, this.prefix, this.listener, this.#established, this.#changed, this.own, this.timeoutMs));
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
