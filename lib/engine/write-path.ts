import { type Envelope, UnserializableValueError } from '../codec/envelope.js';
import { approximateSize } from '../l1/approximate-size.js';
import type { L1Entry } from '../l1/memory-tier.js';
import { type EntryPolicy, entryTimes } from '../options/entry-policy.js';
import { type Raw, writeTime } from '../shared/shared-tier.interface.js';
import type { CacheEngine } from './cache-engine.js';
import type { Flight } from './key-state.js';

/**
 * What makes a load's write to the shared tier safe against an eviction that happened during
 * the load: the fleet lease it holds (the write checks the lease is still its own), or the key's
 * write version read before the load (`lock: false`; the write checks it is unchanged). Without
 * either (the shared tier did not answer, or the lease wait timed out) the result is kept in L1
 * only: it cannot be told from a stale one.
 */
export type Claim = { token: string } | { version: string } | undefined;

/** The lease a claim holds, if it holds one. */
export function leaseToken(claim: Claim): string | undefined {
  return claim !== undefined && 'token' in claim ? claim.token : undefined;
}

/** Writes: a load's result (L1 at once, the shared tier in the background) and `set()`. */
export class WritePath {
  constructor(private readonly e: CacheEngine) {}

  /** Runs the loader (renewing the lease it holds) and stores its result unless superseded. */
  async load(key: string, sk: string, loader: () => unknown, p: EntryPolicy, f: Flight, claim: Claim): Promise<unknown> {
    const e = this.e;
    e.stats.loads++;
    // Entries are dated from the start of their load: an invalidation (of a tag) during the load
    // then covers what it returns.
    const createdAt = Date.now();
    // The same instant on the shared tier's write clock: a clear after it drops the load's fill.
    const since = writeTime();
    const start = performance.now();
    const token = leaseToken(claim);
    let value: unknown;
    try {
      const work = Promise.resolve().then(loader);
      value = await (token !== undefined ? e.lease!.hold(sk, token, work, p.leaseHold) : work);
    } catch (err) {
      e.stats.loadErrors++;
      e.stats.recordLoad(performance.now() - start);
      if (token !== undefined) e.releaseLease(key, sk, token);
      throw err;
    }
    const delta = performance.now() - start;
    e.stats.recordLoad(delta);
    let sp = p;
    try {
      if (p.resultPolicy !== undefined) sp = p.resultPolicy(value);
    } catch (err) {
      if (token !== undefined) e.releaseLease(key, sk, token);
      throw err;
    }
    if (!f.superseded && !sp.unless?.(value)) void this.#storeLoaded(key, sk, value, sp, createdAt, since, delta, claim);
    else if (token !== undefined) e.releaseLease(key, sk, token);
    return value;
  }

  /** L1 now; the shared tier through the claim, in the background. */
  async #storeLoaded(key: string, sk: string, value: unknown, p: EntryPolicy, createdAt: number, since: number, delta: number, claim: Claim): Promise<void> {
    const e = this.e;
    const token = leaseToken(claim);
    const written = this.#prepare(key, value, p, createdAt, delta);
    if (written === undefined) {
      if (token !== undefined) e.releaseLease(key, sk, token);
      return;
    }
    const { envelope, raw, entry } = written;
    if (raw === undefined || claim === undefined) {
      if (token !== undefined) e.releaseLease(key, sk, token);
      return;
    }
    const ttl = envelope.staleUntil - Date.now();
    let stored: boolean | undefined;
    if (token !== undefined) {
      // The announcement wakes waiters elsewhere and ends other instances' L1 copies; with
      // tracking on, the write itself does the latter, so it is sent only when someone waits.
      const always = e.tracking?.status !== 'on';
      stored = await e.lease!.fill(sk, token, raw, ttl, e.bus!.channel, e.bus!.encode('fill', [key]), since, always);
      if (stored === undefined) e.releaseLease(key, sk, token);
    } else {
      const r = await e.shared.putIfVersion(sk, raw, ttl, (claim as { version: string }).version);
      stored = typeof r === 'boolean' ? r : undefined;
    }
    if (stored === false) {
      // Evicted or overwritten elsewhere while loading: the value is stale, keep it nowhere.
      e.stats.leaseLost++;
      if (entry !== undefined && e.l1?.get(key) === entry) e.l1.delete(key);
    }
  }

  /**
   * `set()`/`@CachePut`: replaces the entry here at once and in the shared tier (retried until it
   * confirms), then tells the other instances. A value the policy does not store (`null` with
   * `nullTtl: 0`) evicts the key instead: no older value may outlive a write.
   */
  async set(key: string, value: unknown, p: EntryPolicy): Promise<void> {
    const e = this.e;
    e.keys.supersede(key);
    e.stats.sets++;
    const sk = e.storageKey(key);
    const written = this.#prepare(key, value, p, Date.now(), 0);
    if (written === undefined) {
      e.l1?.delete(key);
      await e.durable.del([key], [sk]);
      e.bus?.publish('del', [key]);
      return;
    }
    if (written.raw !== undefined) await e.durable.put(key, sk, written.raw, written.envelope);
    e.bus?.publish('set', [key]);
  }

  /**
   * The entry for a value written now: its envelope, its bytes for the shared tier (none without
   * one, or when the value cannot be serialized — logged, not thrown), and its L1 copy (stored
   * here). Undefined when the policy does not store the value.
   */
  #prepare(
    key: string,
    value: unknown,
    p: EntryPolicy,
    createdAt: number,
    delta: number,
  ): { envelope: Envelope; raw: Raw | undefined; entry: L1Entry | undefined } | undefined {
    const e = this.e;
    const now = Date.now();
    const times = entryTimes(p, value, now, e.options.tagTtl);
    if (times === undefined) return undefined;
    const envelope: Envelope = { value, createdAt, expiresAt: times.expiresAt, staleUntil: times.staleUntil, delta, tags: p.tags };
    let raw: Raw | undefined;
    if (!e.isL1Only) {
      try {
        raw = e.codec.encode(envelope);
      } catch (err) {
        if (!(err instanceof UnserializableValueError)) throw err;
        e.stats.serializationErrors++;
        e.warnOnce(`serialize:${key}`, `Not cached: the value of "${key}" cannot be serialized (${err.message}).`);
        return undefined;
      }
    }
    let entry: L1Entry | undefined;
    if (e.l1 !== undefined) {
      entry = e.l1Entry(envelope, raw !== undefined ? raw.length : e.l1.sized ? approximateSize(value) : 0);
      const ttl = e.read.l1Ttl(entry, now, p);
      if (ttl > 0) e.l1.set(key, entry, ttl);
    }
    return { envelope, raw, entry };
  }
}
