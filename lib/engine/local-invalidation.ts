import type { BusMessage } from '../bus/bus-message.js';
import type { CacheEngine } from './cache-engine.js';

/**
 * Dropping entries from this instance: its L1 copies, and the loads in flight that would store
 * them again. Driven by this instance's own evictions and writes, and by the bus.
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
        e.keys.epoch++;
        e.tags.received(keys, m.t ?? Date.now());
        break;
    }
    for (const k of keys) e.lease?.wake(k);
  };

  /** The bus was interrupted: invalidations may have been missed, so nothing local is trusted. */
  readonly onGap = (): void => {
    const e = this.e;
    e.stats.busGaps++;
    e.keys.epoch++;
    e.l1?.clear();
    e.tags.clear();
  };
}
