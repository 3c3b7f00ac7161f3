import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient, type RedisClient, secretsOf, usesTls } from '../../../lib/l2/redis-connection.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';

/**
 * The connection settings the library gives the clients it creates from the `redis` option. The
 * clients are lazy: nothing here connects (the module connects them at bootstrap).
 */
describe('Redis clients the library creates from the redis option', () => {
  const clients: RedisClient[] = [];
  const create = (redis: unknown) => {
    const r = resolveOptions({ redis } as Parameters<typeof resolveOptions>[0]).redis;
    if (r === false) throw new Error('expected a redis option');
    const owned = createRedisClient(r);
    clients.push(owned.client);
    return owned;
  };
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  it('from a URL: lazy, no offline queue, one retry per command, auto-pipelining, capped back-off', () => {
    const { client, owned } = create('redis://:s3cret@10.0.0.7:6390/3');
    expect(owned).toBe(true);
    expect(client.status).toBe('wait');
    const o = (client as Redis).options;
    expect(o).toMatchObject({
      host: '10.0.0.7',
      port: 6390,
      db: 3,
      password: 's3cret',
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      disconnectTimeout: 200,
    });
    // Reconnect delays: 100 ms, doubling, at most 2 s, never giving up.
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((t) => o.retryStrategy!(t))).toEqual([100, 200, 400, 800, 1_600, 2_000, 2_000, 2_000]);
    expect(usesTls(client)).toBe(false);
    expect(secretsOf(client)).toEqual(['s3cret']);
  });

  it('from a rediss:// URL: TLS', () => {
    const { client } = create('rediss://cache.example.com:6380');
    expect((client as Redis).options).toMatchObject({ host: 'cache.example.com', port: 6380 });
    expect(usesTls(client)).toBe(true);
  });

  it('from ioredis options: the user’s settings win over the library’s', () => {
    const retryStrategy = () => null;
    const { client } = create({ host: '10.0.0.8', port: 7000, maxRetriesPerRequest: 3, retryStrategy, password: 'pw', keyPrefix: 'app:' });
    expect((client as Redis).options).toMatchObject({
      host: '10.0.0.8',
      port: 7000,
      maxRetriesPerRequest: 3,
      retryStrategy,
      lazyConnect: true,
      enableOfflineQueue: false,
      // ioredis's own keyPrefix is passed through; the library's keys live under its keyPrefix option.
      keyPrefix: 'app:',
    });
    expect(secretsOf(client)).toEqual(['pw']);
  });

  it('lists every configured secret (passwords, TLS key and passphrase) for redaction', () => {
    const { client } = create({
      host: '10.0.0.9',
      password: 'p1',
      sentinelPassword: 'p2',
      tls: { passphrase: 'p3', key: Buffer.from('-----BEGIN KEY-----k') },
    });
    expect(secretsOf(client)).toEqual(['p1', 'p2', 'p3', '-----BEGIN KEY-----k']);
    expect(usesTls(client)).toBe(true);
  });

  it('uses a client passed in as is, and leaves it to its owner', () => {
    const mine = new Redis({ lazyConnect: true, port: 1 });
    clients.push(mine);
    expect(createRedisClient(mine)).toEqual({ client: mine, owned: false });
    expect(mine.options.enableOfflineQueue).toBe(true);
  });
});
