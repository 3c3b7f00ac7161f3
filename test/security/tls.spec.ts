import { Redis, type RedisOptions } from 'ioredis';
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../lib/l2/redis-connection.js';
import { uniquePrefix } from '../support/app.js';
import { TestPki } from '../support/tls-certs.js';
import { TlsRedisServer } from '../support/tls-redis-server.js';
import { observedApp, type ObservedApp } from '../support/security-app.js';

describe('Redis over TLS', () => {
  let pki: TestPki;
  /** Server-authenticated TLS: clients need not present a certificate. */
  let server: TlsRedisServer;
  /** Mutual TLS: clients must present a certificate signed by the CA. */
  let mutual: TlsRedisServer;
  let admin: Redis;
  const apps: ObservedApp[] = [];
  const clients: Redis[] = [];

  beforeAll(async () => {
    pki = new TestPki();
    server = await TlsRedisServer.start(pki, 'optional');
    mutual = await TlsRedisServer.start(pki, 'yes');
    admin = server.admin();
  });
  afterEach(async () => {
    while (apps.length) await apps.pop()!.app.close();
    while (clients.length) clients.pop()!.disconnect();
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
    await mutual?.stop();
    pki?.remove();
  });

  async function boot(redis: Parameters<typeof observedApp>[0]['redis'], keyPrefix = uniquePrefix('tls')): Promise<ObservedApp> {
    const app = await observedApp({ redis, keyPrefix });
    apps.push(app);
    return app;
  }

  /** Two apps on one TLS Redis share entries and evictions, and report nothing wrong. */
  async function expectWorkingSharedTier(redis: RedisOptions | Redis, redis2: RedisOptions | Redis, check: Redis): Promise<void> {
    const keyPrefix = uniquePrefix('tls');
    const a = await boot(redis, keyPrefix);
    const b = await boot(redis2, keyPrefix);
    let loads = 0;
    expect(await a.cache.getOrSet('k', async () => ++loads)).toBe(1);
    expect(await b.cache.getOrSet('k', async () => ++loads)).toBe(1);
    expect(await check.exists(`${keyPrefix}{k}`)).toBe(1);
    for (const { cache, health, logs } of [a, b]) {
      expect(cache.stats()).toMatchObject({ degraded: false, l2: { connected: true, problem: undefined }, bus: { connected: true } });
      expect(await health.isHealthy()).toMatchObject({ cache: { status: 'up', redis: { status: 'up' }, bus: { status: 'up' } } });
      expect(logs.matching(/./, 'error')).toEqual([]);
      expect(logs.matching(/./, 'warn')).toEqual([]);
    }
  }

  it('serves through TLS with a custom CA: { host, port, tls: { ca } }', async () => {
    const options = { host: server.host, port: server.port, tls: { ca: pki.ca.cert } };
    await expectWorkingSharedTier(options, options, admin);
  });

  it('checks the certificate against tls.servername (a DNS name the certificate lists)', async () => {
    const options = { host: server.host, port: server.port, tls: { ca: pki.ca.cert, servername: 'localhost' } };
    await expectWorkingSharedTier(options, options, admin);
  });

  it('serves through a rediss:// URL, given as an ioredis client that carries the CA (left open on close)', async () => {
    const client = () => {
      const c = new Redis(server.url, { tls: { ca: pki.ca.cert }, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    };
    await expectWorkingSharedTier(client(), client(), admin);
  });

  it('serves through mutual TLS with a client certificate (--tls-auth-clients yes)', async () => {
    const options = { host: mutual.host, port: mutual.port, tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } };
    const check = mutual.admin();
    try {
      await expectWorkingSharedTier(options, options, check);
    } finally {
      check.disconnect();
    }
  });

  const failures: [string, () => RedisOptions | string, RegExp][] = [
    ['a rediss:// URL whose CA the system does not trust', () => server.url, /TLS: the Redis server's certificate is not trusted \(\w+\)/],
    [
      'a wrong CA',
      () => ({ host: server.host, port: server.port, tls: { ca: pki.otherCa.cert } }),
      /TLS: the Redis server's certificate is not trusted \(\w+\).*tls\.ca/,
    ],
    [
      'a host name the certificate does not list',
      () => ({ host: server.host, port: server.port, tls: { ca: pki.ca.cert, servername: 'redis.example.com' } }),
      /TLS: .*does not name the host.*tls\.servername/,
    ],
    [
      'no client certificate where the server requires one',
      () => ({ host: mutual.host, port: mutual.port, tls: { ca: pki.ca.cert } }),
      /TLS: .*client certificate/,
    ],
    [
      'a client certificate from another CA',
      () => ({ host: mutual.host, port: mutual.port, tls: { ca: pki.ca.cert, cert: pki.strangerClient.cert, key: pki.strangerClient.key } }),
      /TLS: .*client certificate/,
    ],
    ['plain text to a TLS port', () => ({ host: server.host, port: server.port }), /TLS: .*requires TLS; use rediss:\/\//],
  ];

  it.each(failures)('with %s: starts degraded, logs one error naming TLS and the fix, /health down', async (_, redis, message) => {
    const { cache, health, logs } = await boot(redis());

    // Never fails the app, and every call is answered by its loader.
    await expect(cache.getOrSet('k', async () => 'from the loader')).resolves.toBe('from the loader');

    const errors = logs.matching(/./, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.text).toMatch(message);
    expect(logs.matching(/not reachable/)).toEqual([]);
    expect(cache.stats()).toMatchObject({ degraded: true, l2: { connected: false, problem: 'tls', problemMessage: errors[0]!.text } });
    // Down even without requireRedis: a wrong TLS set-up does not heal by waiting.
    expect(await health.isHealthy()).toMatchObject({
      cache: { status: 'down', degraded: true, redis: { status: 'down', problem: 'tls', message: errors[0]!.text } },
    });
  });

  it('never leaves a socket error unhandled when a refused TLS handshake is cut short (it would crash the process)', async () => {
    const uncaught: unknown[] = [];
    const record = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', record);
    try {
      // Disconnecting at every point of the handshake; before the fix about one in six threw.
      for (let i = 0; i < 100; i++) {
        const { client } = createRedisClient({ host: server.host, port: server.port, tls: { ca: pki.otherCa.cert } });
        client.on('error', () => undefined);
        client.connect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, i % 20));
        client.disconnect();
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      process.off('uncaughtException', record);
    }
    expect(uncaught).toEqual([]);
  });

  describe('passes tls through to the clients it creates', () => {
    it('for Sentinel: the primary connection and the sentinel connections', () => {
      const tls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
      const sentinelTLS = { ca: pki.ca.cert };
      const { client, owned } = createRedisClient({
        sentinels: [{ host: '127.0.0.1', port: 26_379 }],
        name: 'mymaster',
        tls,
        sentinelTLS,
        enableTLSForSentinelMode: true,
      });
      try {
        expect(owned).toBe(true);
        expect((client as Redis).options).toMatchObject({ tls, sentinelTLS, enableTLSForSentinelMode: true, name: 'mymaster' });
      } finally {
        client.disconnect();
      }
    });

    it("for Cluster: every node connection's redisOptions", () => {
      const tls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
      const { client } = createRedisClient({ cluster: [{ host: '127.0.0.1', port: 7_000 }], options: { redisOptions: { tls, password: 'p' } } });
      try {
        expect((client as Cluster).options.redisOptions).toMatchObject({ tls, password: 'p', maxRetriesPerRequest: 1 });
      } finally {
        client.disconnect();
      }
    });

    it('for a rediss:// URL: TLS with the system CAs', () => {
      const { client } = createRedisClient(server.url);
      try {
        expect((client as Redis).options.tls).toBeTruthy();
      } finally {
        client.disconnect();
      }
    });
  });
});
