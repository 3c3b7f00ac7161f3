import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { freePort, rawClient, RedisServer } from '../support/redis-server.js';
import { observedApp, type ObservedApp } from '../support/security-app.js';

/** How many times Redis refused `user`'s credentials (ACL LOG counts repeats in one entry). */
async function authFailures(admin: Redis, user: string): Promise<number> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  let n = 0;
  for (const e of entries) {
    const m = new Map<string, unknown>();
    for (let i = 0; i < e.length; i += 2) m.set(String(e[i]), e[i + 1]);
    if (m.get('reason') === 'auth' && m.get('username') === user) n += Number(m.get('count'));
  }
  return n;
}

describe('authentication failures are named as such', () => {
  let redis: RedisServer;
  let admin: Redis;
  const apps: ObservedApp[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = rawClient(redis);
  });
  afterEach(async () => {
    while (apps.length) await apps.pop()!.app.close();
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  async function boot(options: Parameters<typeof observedApp>[0]): Promise<ObservedApp> {
    const app = await observedApp(options);
    apps.push(app);
    return app;
  }

  it.each([
    ['a wrong password', 'wrongpass-user', 'right-password', 'wrong-password', 'on'],
    ['a disabled user (Redis answers it like a wrong password)', 'disabled-user', 'right-password', 'right-password', 'off'],
  ])('names %s (WRONGPASS) in one error at bootstrap, starts degraded, and /health says down', async (_, user, serverPassword, clientPassword, state) => {
    await admin.call('ACL', 'SETUSER', user, state, `>${serverPassword}`, '~*', '&*', '+@all');
    const { cache, health, logs } = await boot({ redis: { host: redis.host, port: redis.port, username: user, password: clientPassword } });

    // The app runs: calls are answered by the loaders.
    await expect(cache.getOrSet('k', async () => 'from the loader')).resolves.toBe('from the loader');
    expect(cache.stats()).toMatchObject({ degraded: true, l2: { connected: false, problem: 'auth', missingPermissions: [] } });
    expect(cache.stats().l2.problemMessage).toMatch(/WRONGPASS.*password.*disabled/);

    expect(logs.matching(/WRONGPASS/, 'error')).toHaveLength(1);
    expect(logs.matching(/not reachable/)).toEqual([]);

    expect(await health.isHealthy()).toMatchObject({
      cache: { status: 'down', degraded: true, redis: { status: 'down', problem: 'auth', message: expect.stringMatching(/WRONGPASS/) } },
    });
  });

  it('names a missing password (NOAUTH)', async () => {
    const locked = await RedisServer.start();
    const lockedAdmin = rawClient(locked);
    try {
      await lockedAdmin.config('SET', 'requirepass', 'a-password-the-app-does-not-give');
      const { cache, health, logs } = await boot({ redis: locked.url });

      expect(cache.stats().l2).toMatchObject({ problem: 'auth', problemMessage: expect.stringMatching(/NOAUTH.*set password/) });
      expect(logs.matching(/NOAUTH/, 'error')).toHaveLength(1);
      expect(await health.isHealthy()).toMatchObject({ cache: { status: 'down', redis: { problem: 'auth' } } });
    } finally {
      lockedAdmin.disconnect();
      await locked.stop();
    }
  });

  it('logs once per change of state: fixed credentials connect, and a later refusal is named once however often it retries', async () => {
    const user = 'rotating-user';
    await admin.call('ACL', 'SETUSER', user, 'on', 'resetpass', '>old-password', '~*', '&*', '+@all');
    const { cache, health, logs } = await boot({ redis: { host: redis.host, port: redis.port, username: user, password: 'new-password' } });
    expect(logs.matching(/WRONGPASS/, 'error')).toHaveLength(1);

    // The operator rotates the server's password to the one the app has: it connects by itself.
    await admin.call('ACL', 'SETUSER', user, 'resetpass', '>new-password');
    expect(await eventually(() => cache.stats().l2.connected, 10_000)).toBe(true);
    expect(cache.stats().l2.problem).toBeUndefined();
    expect(logs.matching(/Redis connection ready/)).toHaveLength(1);
    // The bus's own connection retries on its own schedule.
    expect(await eventually(async () => (await health.isHealthy()).cache.status === 'up', 10_000)).toBe(true);

    // Rotated again, and the connections dropped: refused on every retry, named once.
    await admin.call('ACL', 'SETUSER', user, 'resetpass', '>newer-password');
    await admin.call('ACL', 'LOG', 'RESET');
    await admin.client('KILL', 'USER', user);
    expect(await eventually(async () => (await authFailures(admin, user)) >= 4, 15_000)).toBe(true);
    expect(cache.stats().l2.problem).toBe('auth');
    expect(logs.matching(/WRONGPASS/, 'error')).toHaveLength(2);
    expect(logs.matching(/connection lost/)).toHaveLength(1);
  });

  it('subscribes the invalidation bus once fixed credentials let it connect', async () => {
    const user = 'deaf-bus-user';
    await admin.call('ACL', 'SETUSER', user, 'on', 'resetpass', '>old-password', '~*', '&*', '+@all');
    await admin.call('ACL', 'LOG', 'RESET');
    const { cache } = await boot({ redis: { host: redis.host, port: redis.port, username: user, password: 'new-password' } });
    // Both connections (commands and bus) have been refused more than once.
    expect(await eventually(async () => (await authFailures(admin, user)) >= 4, 10_000)).toBe(true);

    await admin.call('ACL', 'SETUSER', user, 'resetpass', '>new-password');

    expect(await eventually(() => cache.stats().l2.connected && cache.stats().bus.connected, 10_000)).toBe(true);
  });

  it('calls a Redis that does not answer unreachable: a warning, /health degraded (not down)', async () => {
    const { cache, health, logs } = await boot({ redis: `redis://127.0.0.1:${await freePort()}` });

    expect(cache.stats().l2).toMatchObject({ problem: 'unreachable', problemMessage: expect.stringMatching(/not reachable \(ECONNREFUSED\)/) });
    expect(logs.matching(/not reachable \(ECONNREFUSED\)/, 'warn')).toHaveLength(1);
    expect(logs.matching(/./, 'error')).toEqual([]);
    expect(await health.isHealthy()).toMatchObject({ cache: { status: 'degraded', redis: { status: 'down', problem: 'unreachable' } } });
  });
});
