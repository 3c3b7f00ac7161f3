import type { Redis, RedisOptions } from 'ioredis';
import type { Raw, TrackingListener } from '../shared/shared-tier.interface.js';
import { groupBySlot } from './key-slot.js';
import { type OwnWrites, sameBytes } from './own-writes.js';

/** The channel a RESP2 redirect target receives invalidations on. */
const INVALIDATE = '__redis__:invalidate';
export const RETRY_MS = 1_000;

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
 * reconnects: whenever either connection becomes ready, tracking is switched on again (OFF, then
 * ON with the new target), and the changes made meanwhile, which were not reported, are accounted
 * for by `onEstablished` once it is on. (Not in a MULTI: an ioredis transaction whose connection
 * closes can leave a rejection nobody can handle, which would crash the host app.)
 */
export class ServerTracking {
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
    /** A Cluster primary: a multi-key command must stay within one hash slot. */
    private readonly cluster = false,
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
    try {
      await this.command.call('CLIENT', 'TRACKING', 'OFF');
      await this.command.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', this.prefix, 'NOLOOP');
    } catch (err) {
      return this.#failed(err as Error);
    }
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
    if (message === null || (Array.isArray(message) && message.length === 0)) {
      this.listener.flush();
      return;
    }
    // A plain string: someone PUBLISHed on the channel; not an invalidation.
    if (!Array.isArray(message)) return;
    let report: string[] | undefined;
    let ownKeys: string[] | undefined;
    let ownRaws: (Raw | null)[] | undefined;
    for (const k of message) {
      const key = k.toString();
      const raw = this.own.recent(key);
      if (raw === undefined) (report ??= []).push(key);
      else {
        (ownKeys ??= []).push(key);
        (ownRaws ??= []).push(raw);
      }
    }
    if (report !== undefined) this.listener.keys(report);
    if (ownKeys !== undefined) void this.#check(ownKeys, ownRaws!);
  };

  /**
   * Changes to keys this instance wrote or deleted moments ago: most likely the echoes of its own
   * changes (see OwnWrites). Each is reported unless Redis holds exactly what was left there here
   * — read on the connection that wrote it, so after that write; a failed or slow read reports
   * them all. One MGET per message (per hash slot on a Cluster) and one timer, however many keys
   * it names: with many loads at once, one Redis event loop's writes come back in one message.
   */
  async #check(keys: string[], raws: (Raw | null)[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const groups = this.cluster && keys.length > 1 ? groupBySlot(keys) : [keys];
    const read = Promise.all(groups.map((g) => this.command.mgetBuffer(...g).then((values) => ({ g, values }))));
    const stored = await Promise.race([read.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.timeoutMs)))]);
    clearTimeout(timer);
    let changed: string[] = keys;
    if (stored !== undefined) {
      const held = new Map<string, Buffer | null>();
      for (const { g, values } of stored) for (let i = 0; i < g.length; i++) held.set(g[i]!, values[i] ?? null);
      changed = keys.filter((key, i) => !sameBytes(held.get(key) ?? null, raws[i]!));
    }
    if (changed.length > 0 && !this.#closed) this.listener.keys(changed);
  }
}
