import type { InvalidationBus } from '../bus/invalidation-bus.js';
import type { Envelope } from '../codec/envelope.js';
import { CLEAR_TTL, FAILED, type Outcome, type Raw, type SharedTier, writeTime } from '../shared/shared-tier.interface.js';

/** Most unconfirmed keys kept; past it the oldest are forgotten (their entries expire by TTL). */
const MAX_KEYS = 100_000;
const RETRY_EVERY_MS = 1_000;
/**
 * A write older than this (ms) is resent as a delete: a clear it may predate is remembered by the
 * shared tier for CLEAR_TTL only, and a delete is never stale.
 */
const RESEND_PUT_FOR_MS = CLEAR_TTL - 3_600_000;

/** A write of one key that the shared tier has not confirmed yet. */
/**
 * `at`: the write's time on this instance's clock (Date.now(); entries' times compare with it);
 * `order`: the same instant to the microsecond, which the shared tier orders late writes by (two
 * writes of one millisecond still order).
 */
type Intent = { kind: 'del'; at: number; order: number; key: string } | { kind: 'put'; at: number; order: number; key: string; raw: Raw; envelope: Envelope };

/** A prefix delete; `order`: for a clear, its time to the microsecond, which the shared tier's clear marker keeps. */
type PrefixWrite = { at: number; order?: number; announce: () => void };

/**
 * Writes and invalidations that must not be lost: deletes, `set()`/`@CachePut` writes, prefix
 * deletes (`clear()`, namespaces) and tag markers. Each is sent at once; until the shared tier
 * confirms it, it is remembered, retried every second and when the tier recovers (a dropped
 * connection or an open breaker never loses it), and announced on the bus once it lands (another
 * instance may have read the old value back meanwhile). Until then this instance ignores what the
 * tier holds from before the write, serving the written value instead.
 */
export class DurableWrites {
  readonly #keys = new Map<string, Intent>();
  readonly #prefixes = new Map<string, PrefixWrite>();
  readonly #tags = new Map<string, { key: string; at: number; ttl: number }>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly shared: SharedTier,
    private readonly bus: InvalidationBus | undefined,
  ) {}

  /** Deletes entries (value, lease; bumping their versions), given by user key and storage key. */
  async del(keys: readonly string[], storageKeys: readonly string[]): Promise<void> {
    const at = Date.now();
    const order = writeTime();
    storageKeys.forEach((sk, i) => {
      this.#remember(sk, { kind: 'del', at, order, key: keys[i]! });
    });
    if ((await this.shared.del(storageKeys, order)) === FAILED) return this.#schedule();
    for (const sk of storageKeys) this.#confirmed(sk, at);
  }

  /** An unconditional write of one entry (`set`, `@CachePut`). */
  async put(key: string, storageKey: string, raw: Raw, envelope: Envelope): Promise<void> {
    const at = envelope.createdAt;
    const order = writeTime();
    this.#remember(storageKey, { kind: 'put', at, order, key, raw, envelope });
    const ttl = envelope.staleUntil - Date.now();
    if (ttl > 0 && (await this.shared.put(storageKey, raw, Math.ceil(ttl), order)) === FAILED) return this.#schedule();
    this.#confirmed(storageKey, at);
  }

  /** Deletes every key under a storage prefix; `announce` tells the other instances once it landed. */
  delPrefix(prefix: string, announce: () => void): Promise<void> {
    return this.#prefixWrite(prefix, { at: Date.now(), announce });
  }

  /**
   * `clear()`: deletes every entry under `${keyPrefix}{` after recording the clear's time in the
   * shared tier, which then drops any write dated before it — this instance's or another's,
   * retried later by an instance that never heard of the clear.
   */
  clear(prefix: string, announce: () => void): Promise<void> {
    return this.#prefixWrite(prefix, { at: Date.now(), order: writeTime(), announce });
  }

  async #prefixWrite(prefix: string, p: PrefixWrite): Promise<void> {
    this.#prefixes.set(prefix, p);
    if ((await this.#sendPrefix(prefix, p)) === FAILED) return this.#schedule();
    if (this.#prefixes.get(prefix)?.at === p.at) this.#prefixes.delete(prefix);
  }

  /** A prefix delete, or a clear when it has its time to the microsecond (first sent and retried alike). */
  #sendPrefix(prefix: string, p: PrefixWrite): Promise<Outcome<true>> {
    return p.order === undefined ? this.shared.delPrefix(prefix) : this.shared.clear(prefix, p.order);
  }

  /** Writes a tag's invalidation marker (its time, `at`) for `ttl` ms. */
  async tag(tag: string, markerKey: string, at: number, ttl: number): Promise<void> {
    this.#tags.set(tag, { key: markerKey, at, ttl });
    if ((await this.shared.setMarker(markerKey, String(at), ttl)) === FAILED) return this.#schedule();
    if (this.#tags.get(tag)?.at === at) this.#tags.delete(tag);
  }

  /**
   * What to make of an entry the shared tier returned for `storageKey`, written at `createdAt`:
   * `undefined` to serve it; `null` when an unconfirmed delete hides it; the written envelope when
   * an unconfirmed write replaces it.
   */
  override(storageKey: string, createdAt: number): Envelope | null | undefined {
    if (this.#keys.size === 0 && this.#prefixes.size === 0) return undefined;
    const intent = this.#keys.get(storageKey);
    if (intent !== undefined && createdAt <= intent.at) return intent.kind === 'put' ? intent.envelope : null;
    for (const [prefix, p] of this.#prefixes) if (createdAt <= p.at && storageKey.startsWith(prefix)) return null;
    return undefined;
  }

  /**
   * This instance's tag invalidations the shared tier has not confirmed, as `[tag, at]`: their
   * markers cannot be read back from it yet, so what this instance knows of them must outlive a
   * gap that makes it forget every other tag time.
   */
  *unconfirmedTags(): Generator<[tag: string, at: number]> {
    for (const [tag, t] of this.#tags) yield [tag, t.at];
  }

  /** Whether anything is still unconfirmed. */
  get pending(): number {
    return this.#keys.size + this.#prefixes.size + this.#tags.size;
  }

  /** Sends again what the shared tier has not confirmed, and announces what lands. */
  async retry(): Promise<void> {
    this.bus?.retry();
    const deleted: string[] = [];
    const written: string[] = [];
    for (const [sk, intent] of [...this.#keys]) {
      const ttl = intent.kind === 'put' && writeTime() - intent.order < RESEND_PUT_FOR_MS ? intent.envelope.staleUntil - Date.now() : 0;
      // With the write's own time: a write another instance made meanwhile (or in the same
      // millisecond: their order is unknown) and that landed first wins.
      const r =
        intent.kind === 'put' && ttl > 0
          ? await this.shared.put(sk, intent.raw, Math.ceil(ttl), intent.order, true)
          : await this.shared.del([sk], intent.order);
      if (r === FAILED) continue;
      this.#confirmed(sk, intent.at);
      (intent.kind === 'put' && ttl > 0 ? written : deleted).push(intent.key);
    }
    if (deleted.length > 0) this.bus?.publish('del', deleted);
    if (written.length > 0) this.bus?.publish('set', written);
    for (const [prefix, p] of [...this.#prefixes]) {
      if ((await this.#sendPrefix(prefix, p)) === FAILED) continue;
      if (this.#prefixes.get(prefix)?.at === p.at) this.#prefixes.delete(prefix);
      p.announce();
    }
    for (const [tag, t] of [...this.#tags]) {
      if ((await this.shared.setMarker(t.key, String(t.at), t.ttl)) === FAILED) continue;
      if (this.#tags.get(tag)?.at === t.at) this.#tags.delete(tag);
      this.bus?.publish('tags', [tag], t.at);
    }
    if (this.pending > 0 || (this.bus?.pending ?? 0) > 0) this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #remember(storageKey: string, intent: Intent): void {
    if (this.#keys.size >= MAX_KEYS && !this.#keys.has(storageKey)) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.delete(storageKey);
    this.#keys.set(storageKey, intent);
  }

  #confirmed(storageKey: string, at: number): void {
    if (this.#keys.get(storageKey)?.at === at) this.#keys.delete(storageKey);
  }

  /** Retries every second until everything landed (besides on recovery). */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.shared.connected) void this.retry();
      else this.#schedule();
    }, RETRY_EVERY_MS);
    this.#timer.unref();
  }
}
