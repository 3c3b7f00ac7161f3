import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../lib/codec/envelope.js';
import { DurableWrites } from '../../../lib/engine/durable-writes.js';
import { MemoryBroker, type MemorySharedTier } from '../../../lib/shared/memory-shared-tier.js';

/**
 * Writes that must not be lost (issue 12, defect 3): what the shared tier did not take is kept,
 * hides what the tier still holds from before, and lands on the next retry.
 */
const open: DurableWrites[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

function setup() {
  const broker = new MemoryBroker();
  const tier: MemorySharedTier = broker.tier({ timeoutMs: 50 });
  const writes = new DurableWrites(tier, undefined);
  open.push(writes);
  return { broker, tier, writes };
}

function envelope(value: string, createdAt = Date.now()): Envelope {
  return { value, createdAt, expiresAt: createdAt + 60_000, staleUntil: createdAt + 60_000, delta: 0, tags: undefined };
}

describe('DurableWrites', () => {
  it('confirms a write the shared tier took: nothing stays pending or hidden', async () => {
    const { broker, writes } = setup();
    await writes.put('k', 'p{k}', 'new', envelope('new'));
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBe('new');
    expect(writes.override('p{k}', 0)).toBeUndefined();
  });

  it('keeps a set() the tier did not take, serves it over older entries, and writes it on retry', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    const e = envelope('new');
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'new', e);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{k}', e.createdAt - 1)).toBe(e);
    expect(writes.override('p{k}', e.createdAt + 1)).toBeUndefined();
    expect(writes.override('p{other}', 0)).toBeUndefined();
    await writes.retry();
    expect(writes.pending).toBe(1);
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBe('new');
    expect(writes.override('p{k}', 0)).toBeUndefined();
  });

  // fuzz seed 94322344: during an outage B set() the key, then A deleted it; when the tier came
  // back, B's retried write landed after A's delete and brought the older value back.
  it('retries a set() with its own time: a later write another instance made meanwhile wins', async () => {
    const { broker, tier, writes } = setup();
    const other = broker.tier();
    const e = envelope('set before the outage ended', Date.now() - 10);
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'set before the outage ended', e);
    expect(writes.pending).toBe(1);
    await other.del(['p{k}'], e.createdAt + 5);
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('keeps a delete the tier did not take, hides older entries, and deletes on retry', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(true);
    const before = Date.now();
    await writes.del(['k'], ['p{k}']);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{k}', before)).toBeNull();
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('retries a delete instead of a write that expired meanwhile', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(true);
    const e = { ...envelope('new'), expiresAt: Date.now() + 20, staleUntil: Date.now() + 20 };
    await writes.put('k', 'p{k}', 'new', e);
    expect(writes.pending).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('keeps a prefix delete (clear) the tier did not take, and announces it once it lands', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{a}', 'old', 60_000);
    broker.write('q{a}', 'other', 60_000);
    let announced = 0;
    tier.setDown(true);
    const before = Date.now();
    await writes.delPrefix('p{', () => announced++);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{a}', before)).toBeNull();
    expect(writes.override('q{a}', before)).toBeUndefined();
    expect(announced).toBe(0);
    tier.setDown(false);
    await writes.retry();
    expect(announced).toBe(1);
    expect(writes.pending).toBe(0);
    expect(broker.read('p{a}')).toBeNull();
    expect(broker.read('q{a}')).toBe('other');
  });

  it('keeps a tag marker the tier did not take and writes it on retry', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.tag('t', 'p__tag:{t}', 1_234, 60_000);
    expect(writes.pending).toBe(1);
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p__tag:{t}')).toBe('1234');
  });

  it('a later write of a key replaces the earlier unconfirmed one', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'one', envelope('one'));
    const two = envelope('two', Date.now() + 1);
    await writes.put('k', 'p{k}', 'two', two);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{k}', 0)).toBe(two);
    tier.setDown(false);
    await writes.retry();
    expect(broker.read('p{k}')).toBe('two');
  });

  it('retries by itself every second until the tier takes it', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.del(['k'], ['p{k}']);
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(false);
    await expect.poll(() => writes.pending, { timeout: 3_000, interval: 50 }).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });
});
