import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBroker, type MemorySharedTier } from '../../../lib/shared/memory-shared-tier.js';
import { FAILED } from '../../../lib/shared/shared-tier.interface.js';
import { sharedTierContract } from '../../contract/shared-tier.contract.js';

let tests = 0;

sharedTierContract('MemorySharedTier', async () => {
  let t = 1_700_000_000_000;
  const broker = new MemoryBroker({ now: () => t });
  const a = broker.tier();
  const b = broker.tier();
  return {
    a,
    b,
    prefix: `contract-${++tests}:`,
    advance: async (ms) => {
      t += ms;
    },
    close: async () => {
      await a.close();
      await b.close();
    },
  };
});

function fleet(timeoutMs = 20) {
  let t = 1_700_000_000_000;
  const broker = new MemoryBroker({ now: () => t });
  return { broker, a: broker.tier({ timeoutMs }), b: broker.tier({ timeoutMs }), advance: (ms: number) => (t += ms) };
}

function events(tier: MemorySharedTier): string[] {
  const seen: string[] = [];
  tier.on('trouble', () => seen.push('trouble'));
  tier.on('recovered', () => seen.push('recovered'));
  return seen;
}

describe('MemorySharedTier faults', () => {
  it('fails every command at once while the broker is down, then answers again with its data', async () => {
    const { broker, a } = fleet();
    const seen = events(a);
    await a.put('k', 'v', 10_000);
    broker.setDown(true);
    expect(a.connected).toBe(false);
    expect(await a.get('k')).toBe(FAILED);
    expect(await a.del(['k'])).toBe(FAILED);
    await expect(a.ping()).rejects.toThrow(/not answering/);
    broker.setDown(false);
    expect(await a.get('k')).toBe('v');
    expect(seen).toEqual(['trouble', 'recovered']);
  });

  it('times out commands to a hung broker and runs them when it resumes, as a SIGSTOPped Redis does', async () => {
    const { broker, a, b } = fleet();
    const seen = events(a);
    broker.setHung(true);
    expect(a.connected).toBe(true);
    expect(await a.put('k', 'late', 10_000)).toBe(FAILED);
    expect(a.timeouts).toBe(1);
    expect(seen).toEqual(['trouble']);
    broker.setHung(false);
    expect(seen).toEqual(['trouble', 'recovered']);
    expect(await b.get('k')).toBe('late');
  });

  it("one instance's dropped connection does not affect the others", async () => {
    const { a, b } = fleet();
    (a as MemorySharedTier).setDown(true);
    expect(await a.put('k', 'v', 10_000)).toBe(FAILED);
    expect(await b.put('k', 'w', 10_000)).toBe(true);
    a.setDown(false);
    expect(await a.get('k')).toBe('w');
  });

  it('loses messages while the subscriber is disconnected and reports the gap when it is back', async () => {
    const { a, b } = fleet();
    const got: string[] = [];
    let gaps = 0;
    const sub = b.subscribe(
      'bus',
      (m) => got.push(m),
      () => gaps++,
    );
    await sub.start(100);
    b.dropMessages(true);
    expect(sub.connected).toBe(false);
    await a.publish('bus', 'lost');
    b.dropMessages(false);
    await a.publish('bus', 'kept');
    await Promise.resolve();
    expect(got).toEqual(['kept']);
    expect(gaps).toBe(1);
  });

  it('reports a gap to subscribers after the broker was down', async () => {
    const { broker, a, b } = fleet();
    let gaps = 0;
    const sub = b.subscribe(
      'bus',
      () => undefined,
      () => gaps++,
    );
    await sub.start(100);
    broker.setDown(true);
    broker.setDown(false);
    expect(gaps).toBe(1);
    expect(await a.publish('bus', 'm')).toBe(true);
  });

  it('delays deliveries by busDelay and lets a hook hold them back', async () => {
    const { a, b } = fleet();
    const got: string[] = [];
    const held: (() => void)[] = [];
    b.deliver = (_m, deliver) => held.push(deliver);
    const sub = b.subscribe(
      'bus',
      (m) => got.push(m),
      () => undefined,
    );
    await sub.start(100);
    await a.publish('bus', 'm1');
    await new Promise((r) => setTimeout(r, 1));
    expect(got).toEqual([]);
    for (const d of held) d();
    expect(got).toEqual(['m1']);
  });

  it('expires keys by the injected clock', async () => {
    const { a, advance } = fleet();
    await a.put('k', 'v', 1_000);
    advance(999);
    expect(await a.get('k')).toBe('v');
    advance(1);
    expect(await a.get('k')).toBeNull();
  });

  it('refuses a key without TTL, as every shared key must expire', async () => {
    const { a } = fleet();
    await expect(a.put('k', 'v', 0)).rejects.toThrow(/TTL/);
  });

  it("applies one instance's commands in the order it sent them, whatever the scheduler picks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const broker = new MemoryBroker({ schedule: (p, label) => s.schedule(p, label) });
        const a = broker.tier({ timeoutMs: 10_000 });
        const b = broker.tier({ timeoutMs: 10_000 });
        const done = Promise.all([a.put('k', '1', 10_000), a.del(['k']), a.put('k', '2', 10_000), b.get('k')]);
        await s.waitFor(done);
        expect(await s.waitFor(a.get('k'))).toBe('2');
      }),
      { numRuns: 50 },
    );
  });
});

describe('MemorySharedTier connect', () => {
  it('waits for a broker that is down at start-up and recovers when it comes back', async () => {
    const broker = new MemoryBroker();
    broker.setDown(true);
    const tier = broker.tier();
    const seen = events(tier);
    const connecting = tier.connect(5_000);
    broker.setDown(false);
    await connecting;
    expect(tier.connected).toBe(true);
    expect(seen).toEqual(['recovered']);
  });
});
