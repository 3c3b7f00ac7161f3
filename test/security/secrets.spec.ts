import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { diagnose } from '../../lib/l2/redis-diagnosis.js';
import { createCacheUser } from '../support/acl.js';
import { eventually, uniquePrefix } from '../support/app.js';
import { freePort, rawClient, RedisServer } from '../support/redis-server.js';
import { observedApp, type ObservedApp } from '../support/security-app.js';
import { TestPki } from '../support/tls-certs.js';
import { TlsRedisServer } from '../support/tls-redis-server.js';

/** A password no other text would contain by chance. */
const secret = () => `pw-${randomBytes(9).toString('hex')}`;

describe('secrets never reach a log line, stats(), the health payload or the metrics', () => {
  let redis: RedisServer;
  let admin: Redis;
  let pki: TestPki;
  let tlsServer: TlsRedisServer;
  const apps: ObservedApp[] = [];
  let printed: string[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = rawClient(redis);
    pki = new TestPki();
    tlsServer = await TlsRedisServer.start(pki, 'yes');
  });
  beforeEach(() => {
    // ioredis prints some warnings straight to the console: they count too.
    printed = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        printed.push(args.map(String).join(' '));
      });
    }
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    while (apps.length) await apps.pop()!.app.close();
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
    await tlsServer?.stop();
    pki?.remove();
  });

  async function boot(options: Parameters<typeof observedApp>[0]): Promise<ObservedApp> {
    const app = await observedApp(options);
    apps.push(app);
    // Calls of every kind, so any message they might produce is produced.
    await app.cache.getOrSet('k', async () => 'v');
    await app.cache.set('s', 1);
    await app.cache.del('s');
    await app.cache.invalidateTags('t');
    return app;
  }

  async function expectNowhere(app: ObservedApp, secrets: readonly string[]): Promise<void> {
    const everything = `${await app.everythingReported()}\n${printed.join('\n')}`;
    // The scan reads real output: the app did report its state.
    expect(everything).toContain('tiered_cache_');
    for (const s of secrets) expect(everything, `found ${s.slice(0, 40)} in what the app reported`).not.toContain(s);
  }

  it('with a wrong password given in the URL', async () => {
    const password = secret();
    await admin.call('ACL', 'SETUSER', 'url-user', 'on', `>${secret()}`, '~*', '&*', '+@all');
    const app = await boot({ redis: `redis://url-user:${password}@${redis.host}:${redis.port}` });

    expect(app.cache.stats().l2.problem).toBe('auth');
    expect(app.logs.matching(/WRONGPASS/, 'error')).toHaveLength(1);
    await expectNowhere(app, [password, `url-user:${password}@`]);
  });

  it('with an unreachable host given by a URL with userinfo', async () => {
    const password = secret();
    const app = await boot({ redis: `redis://someone:${password}@127.0.0.1:${await freePort()}` });

    expect(app.cache.stats().l2.problem).toBe('unreachable');
    await expectNowhere(app, [password, `someone:${password}@`]);
  });

  it('with a TLS failure, a password and a client key', async () => {
    const password = secret();
    const app = await boot({
      redis: { host: tlsServer.host, port: tlsServer.port, password, tls: { ca: pki.otherCa.cert, cert: pki.client.cert, key: pki.client.key } },
    });

    expect(app.cache.stats().l2.problem).toBe('tls');
    const keyLines = pki.client.key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    await expectNowhere(app, [password, ...keyLines]);
  });

  it('through a Redis restart that forgets the user, a missing permission, and the recovery', async () => {
    const password = secret();
    const prefix = uniquePrefix('secret');
    await createCacheUser(admin, 'restart-user', password, prefix, { without: ['publish'] });
    const app = await boot({ keyPrefix: prefix, redis: `redis://restart-user:${password}@${redis.host}:${redis.port}` });
    expect(app.cache.stats().l2).toMatchObject({ connected: true, problem: 'permission' });

    await redis.kill();
    await redis.start();
    // The new server does not know the user: refused until it is created again.
    expect(await eventually(() => app.cache.stats().l2.problem === 'auth', 10_000)).toBe(true);
    admin.disconnect();
    admin = rawClient(redis);
    await createCacheUser(admin, 'restart-user', password, prefix, { without: ['publish'] });
    expect(await eventually(() => app.cache.stats().l2.connected, 10_000)).toBe(true);
    await app.cache.getOrSet('after', async () => 'v');

    expect(app.logs.matching(/connection lost/)).toHaveLength(1);
    expect(app.logs.matching(/WRONGPASS/, 'error')).toHaveLength(1);
    expect(app.logs.matching(/Redis connection ready/)).toHaveLength(1);
    await expectNowhere(app, [password, `restart-user:${password}@`]);
  });

  it('removes secrets, URL userinfo and PEM blocks from error text it repeats', () => {
    const password = secret();
    const pem = pki.client.key;
    const err = new Error(`odd failure at redis://u:${password}@db.internal:6379 (auth ${password}) ${pem}`);

    const { message } = diagnose(err, false, true, [password]);

    expect(message).toContain('odd failure at redis://***@db.internal:6379');
    expect(message).not.toContain(password);
    expect(message).not.toContain(pem.split('\n')[1]);
  });
});
