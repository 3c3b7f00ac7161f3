import type { EntryPolicy } from '../options/entry-policy.js';
import type { CacheEngine } from './cache-engine.js';
import type { Flight } from './key-state.js';
import type { Claim } from './write-path.js';

/** What a background refresh resolves to when it stored nothing (failed, or another instance refreshes). */
export const NO_REFRESH: unique symbol = Symbol('no-refresh');

/**
 * Background refreshes (grace period, early refresh): one per key in this process, and — through
 * the lease — one per key in the fleet. Never rejects: a failure starts the key's backoff.
 */
export class Refresher {
  constructor(private readonly e: CacheEngine) {}

  /**
   * Refreshes `key` unless a refresh of it is already running (then joins it). `seenCreatedAt`
   * is the creation time of the value the caller saw: a newer one in the shared tier means
   * another instance refreshed meanwhile, and is used instead of loading.
   */
  refresh(key: string, sk: string, loader: () => unknown, p: EntryPolicy, seenCreatedAt: number): Promise<unknown> {
    const running = this.e.keys.refresh(key);
    if (running !== undefined) return running.promise;
    const f = this.e.keys.beginRefresh(key);
    f.tags = p.tags;
    f.promise = this.#run(key, sk, loader, p, seenCreatedAt, f);
    return f.promise;
  }

  async #run(key: string, sk: string, loader: () => unknown, p: EntryPolicy, seenCreatedAt: number, f: Flight): Promise<unknown> {
    const e = this.e;
    try {
      let claim: Claim;
      if (e.shared.connected) {
        if (p.lock && e.lease !== undefined) {
          const token = await e.lease.tryAcquire(sk);
          // Another instance holds the lease: it is refreshing.
          if (token === null) return NO_REFRESH;
          if (token !== undefined) claim = { token };
        }
        // Another instance may have refreshed it since we read it: use that.
        const raw = await e.read.readRaw(sk, p, f);
        claim ??= f.claim;
        const found = await e.read.accept(sk, raw, false);
        if (found !== undefined && found.createdAt > seenCreatedAt && found.expiresAt > Date.now()) {
          e.releaseClaim(key, sk, claim);
          if (!f.superseded) e.read.backfill(key, found, p);
          return found.value;
        }
      }
      // Evicted here before its loader ran: it would store nothing, and a caller that needs a
      // value loads afresh. Running it anyway made two loaders of the key at once in this process.
      if (f.superseded) {
        e.releaseClaim(key, sk, claim);
        return NO_REFRESH;
      }
      e.stats.refreshes++;
      return await e.writes.load(key, sk, loader, p, f, claim);
    } catch {
      e.stats.refreshErrors++;
      e.keys.backoff(key, p.graceBackoff);
      return NO_REFRESH;
    } finally {
      e.keys.end(key, f);
    }
  }
}
