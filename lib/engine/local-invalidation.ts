import type { BusMessage } from '../bus/bus-message.js';
import type { TrackingListener } from '../shared/shared-tier.interface.js';
import type { CacheEngine } from './cache-engine.js';

/**
 * Dropping entries from this instance: its L1 copies, and the loads in flight that would store
 * them again. Driven by this instance's own evictions and writes, by the bus, and by Redis
 * itself (server-assisted tracking).
 */
export class LocalInvalidation {
  constructor(private readonly e: CacheEngine) {}

  /** One key: its L1 copy goes, and loads of it in flight will not store. */
  evict(key: string): void {
    this.e.keys.supersede(key);
    this.e.l1?.delete(key);
  }

  /** Every key `match` accepts (every key without `match`). */
  evictWhere(match?: (key: string) => boolean): void {
    this.e.keys.supersedeWhere(match);
    if (match) this.e.l1?.deleteWhere(match);
    else this.e.l1?.clear();
  }

  /** A message from another instance. */
  readonly onBus = (m: BusMessage): void => {
    const e = this.e;
    const keys = m.k ?? [];
    switch (m.o) {
      case 'set':
      case 'del':
        for (const k of keys) this.evict(k);
        break;
      case 'fill':
        // Another instance stored a load's result: a newer value than any L1 copy here.
        for (const k of keys) e.l1?.delete(k);
        break;
      case 'ns':
        if (keys[0] !== undefined) this.evictWhere((k) => k.startsWith(keys[0]!));
        break;
      case 'clear':
        this.evictWhere();
        break;
      case 'tags':
        e.keys.supersedeTagged(keys);
        e.tags.received(keys, m.t ?? Date.now());
        break;
    }
    for (const k of keys) e.lease?.wake(k);
  };

  /** The bus was interrupted: invalidations may have been missed, so nothing local is trusted. */
  readonly onGap = (): void => {
    this.e.stats.busGaps++;
    this.#untrustAll();
  };

  /**
   * What Redis reports (`tracking`): keys any other client changed, a flush, and tracking coming
   * back on — after which nothing cached while it was off is trusted.
   */
  readonly tracked: TrackingListener = {
    keys: (storageKeys) => {
      const e = this.e;
      e.stats.trackingMessages++;
      for (const sk of storageKeys) {
        const t = e.trackedKeys?.resolve(sk);
        if (t === undefined) continue;
        e.stats.trackingKeys++;
        if ('key' in t) this.evict(t.key);
        else if ('tag' in t) {
          // The marker changed (written, expired, evicted): nothing older than now is trusted;
          // the timestamp is read again once this instance forgets it (after l1.ttl).
          e.keys.epoch++;
          e.tags.received([t.tag], Date.now());
        } else this.evictWhere((k) => e.storageKey(k) === t.hashed);
      }
    },
    flush: () => {
      // As `clear()` everywhere: loads in flight store nothing, lease waiters look again.
      this.e.stats.trackingMessages++;
      this.e.stats.trackingFlushes++;
      this.evictWhere();
      this.#forgetTagTimes();
      this.e.lease?.wakeAll();
    },
    resumed: () => {
      this.e.stats.trackingGaps++;
      this.#untrustAll();
    },
  };

  /**
   * After a gap (bus or tracking): L1 and the known tag timestamps go, and reads out now do not
   * back-fill L1. Loads in flight still store: nothing evicted their key.
   */
  #untrustAll(): void {
    const e = this.e;
    e.keys.epoch++;
    e.l1?.clear();
    this.#forgetTagTimes();
  }

  /**
   * Forgets the tag times known here (they are read again from the shared tier), except this
   * instance's own invalidations the tier has not confirmed: their markers are not there to read,
   * and a read after a reconnect's gap, before the retried marker landed, served what
   * `invalidateTags` had invalidated (fuzz seed 985973894).
   */
  #forgetTagTimes(): void {
    const e = this.e;
    e.tags.clear();
    for (const [tag, at] of e.durable.unconfirmedTags()) e.tags.received([tag], at);
  }
}
