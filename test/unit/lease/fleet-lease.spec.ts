import { describe, expect, it } from 'vitest';
import { FleetLease } from '../../../lib/lease/fleet-lease.js';
import { MemoryBroker } from '../../../lib/shared/memory-shared-tier.js';
import { CacheStats } from '../../../lib/stats/cache-stats.js';

const options = { leaseTtl: 1_000, lockWaitTimeout: 1_000, onLockTimeout: 'load' as const };
const lease = () => new FleetLease(new MemoryBroker().tier({ timeoutMs: 200 }), new CacheStats(), options, async () => undefined);

describe('FleetLease tokens', () => {
  it('never hands out a token twice, in one instance or across instances', () => {
    const a = lease();
    const b = lease();
    const tokens = [...Array.from({ length: 1_000 }, () => a.newToken()), ...Array.from({ length: 1_000 }, () => b.newToken())];
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('draws a random part per instance: two instances start from different tokens', () => {
    const a = lease().newToken();
    const b = lease().newToken();
    expect(a.slice(0, 16)).not.toBe(b.slice(0, 16));
  });
});
