import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisSubscription } from '../../lib/l2/redis-subscription.js';
import { sleep } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

/**
 * Found by the real-Redis fuzz (7 of 14 workers, faults property): ioredis re-subscribes a
 * reconnected subscriber itself (`autoResubscribe`) and drops the SUBSCRIBE's promise, so closing
 * the app while that SUBSCRIBE waits for its reply rejected it with "Connection is closed." and
 * nobody handled it. Node ends a process on an unhandled rejection: an app shut down during a
 * Redis hiccup crashed instead of stopping.
 */
describe('closing while the bus subscriber re-subscribes after a reconnect', () => {
  const suite = redisSuite();
  const unhandled: unknown[] = [];
  const collect = (err: unknown) => void unhandled.push(err);
  afterEach(() => {
    process.off('unhandledRejection', collect);
  });

  it('leaves no unhandled rejection', async () => {
    process.on('unhandledRejection', collect);
    // No ready check: the reconnected subscriber counts as ready (and re-subscribes) as soon as
    // its socket connects, even to a stopped server.
    const client = new Redis(suite.redis.url, { enableReadyCheck: false });
    const sub = new RedisSubscription(
      client,
      'bus',
      () => undefined,
      () => undefined,
    );
    try {
      await sub.start(1_000);
      expect(sub.connected).toBe(true);
      await suite.raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      // Stopped: the subscriber reconnects (the kernel accepts), sends SUBSCRIBE, gets no reply.
      suite.redis.signal('SIGSTOP');
      await sleep(400);
      await sub.close();
      await sleep(50);
    } finally {
      suite.redis.signal('SIGCONT');
      client.disconnect();
    }
    expect(unhandled.map(String)).toEqual([]);
  });
});
