import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { TieredCacheService, type CacheStatsSnapshot } from '../index.js';

/** Options of `TieredCacheHealthIndicator.isHealthy()`. */
export interface TieredCacheHealthOptions {
  /**
   * Report the indicator `down` (so Terminus answers 503) when Redis is configured but
   * unreachable. By default such a cache is reported `degraded` and the check answers 200:
   * the app still serves every call, from L1 and the loaders. Use `true` for an alerting probe,
   * not for a load balancer's readiness probe: when Redis drops for every instance at once, a
   * strict readiness probe takes the whole service out of rotation.
   *
   * Whatever this option, Redis refusing the credentials (`problem: 'auth'`) or the TLS handshake
   * (`problem: 'tls'`) is reported `down`: those do not heal by waiting, and a deployment with a
   * wrong password or CA must not pass its health check while silently running L1-only.
   * @default false
   */
  requireRedis?: boolean;
}

/** What keeps Redis from working fully (see `CacheStatsSnapshot['l2']['problem']`). */
export type RedisProblem = NonNullable<CacheStatsSnapshot['l2']['problem']>;

/** How the Redis tier answered this check. Messages name the fix and never hold a secret. */
export type RedisHealth =
  | {
      status: 'up';
      /** Round-trip time of one PING, in milliseconds. */
      latencyMs: number;
      /** Set when the ACL user lacks permissions: the cache works only in part. */
      problem?: 'permission';
      /** ACL rules to grant (`'+publish'`, `'~<keyPrefix>*'`, ...), with `problem`. */
      missingPermissions?: string[];
      message?: string;
    }
  | { status: 'down'; problem?: RedisProblem; message: string }
  | { status: 'not configured' };

/** Whether the invalidation bus (Redis pub/sub between instances) is subscribed. */
export type BusHealth = { status: 'up' | 'down' | 'not configured' };

/**
 * Server-assisted invalidation (`tracking` option): `up` when Redis reports every change,
 * `down` while it is being switched (back) on, `refused` when the server refused it (the bus
 * alone invalidates; changes made outside the library end L1 copies only at `l1.ttl`).
 */
export type TrackingHealth = { status: 'up' | 'down' | 'not configured' } | { status: 'refused'; message: string };

/** The data the indicator reports under its key, beside Terminus' own `status`. */
export interface TieredCacheHealthDetails {
  [key: string]: unknown;
  /**
   * Whether the cache serves without its shared tier, or part of it, right now (Redis configured
   * but not connected, or connected with ACL permissions missing).
   */
  degraded: boolean;
  redis: RedisHealth;
  bus: BusHealth;
  tracking: TrackingHealth;
}

/**
 * A Terminus health indicator for `TieredCacheService`: whether Redis answers and how fast,
 * whether the cache runs degraded (L1 and loaders only), whether the invalidation bus is connected.
 *
 * Statuses it reports under its key:
 * - `up`: Redis answers a PING (or is not configured: `redis: false`), and the bus is connected
 *   (or not configured), and tracking is on, refused, or not configured (a refusal is reported in
 *   `tracking` but is not a fault: the cache then works as with `tracking: false`).
 * - `degraded`: Redis is configured but does not answer within the module's `l2Timeout`, the
 *   bus is disconnected, tracking is being switched back on, or the Redis user lacks ACL
 *   permissions the cache needs (`redis.problem: 'permission'`, `redis.missingPermissions`). The app still serves; Terminus keeps the overall HTTP status at 200 and
 *   sets the overall `status` to `degraded`. (With `@nestjs/terminus` 11, which has no degraded
 *   status, the indicator reports `up` with `degraded: true`.)
 * - `down`: as `degraded`, when `requireRedis` is set; and always when Redis refuses the
 *   credentials (`redis.problem: 'auth'`) or the TLS handshake (`redis.problem: 'tls'`).
 *   Terminus then answers 503. `redis.message` names the fix.
 *
 * Provide it beside `TerminusModule`; it needs `TieredCacheModule` in the app.
 *
 * @publicApi
 * @example
 * ```ts
 * import { TieredCacheHealthIndicator } from 'nestjs-tiered-cache/terminus';
 *
 * @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [TieredCacheHealthIndicator] })
 * export class HealthModule {}
 *
 * @Controller('health')
 * export class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly cache: TieredCacheHealthIndicator) {}
 *
 *   @Get() @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.cache.isHealthy('cache')]);
 *   }
 * }
 * ```
 */
@Injectable()
export class TieredCacheHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly cache: TieredCacheService,
  ) {}

  /**
   * Checks the cache. Sends one PING to Redis (none when Redis is not configured); it waits at
   * most the module's `l2Timeout` (default 250 ms).
   *
   * @param key Name of the indicator in the health check result. Default: `'cache'`.
   * @param options See {@link TieredCacheHealthOptions}.
   */
  async isHealthy<const TKey extends string = 'cache'>(
    key: TKey = 'cache' as TKey,
    options: TieredCacheHealthOptions = {},
  ): Promise<HealthIndicatorResult<TKey>> {
    const indicator = this.healthIndicatorService.check(key);
    const snapshot = this.cache.stats();
    const redis = await this.#redisHealth(snapshot);
    const bus = busHealth(snapshot);
    const tracking = trackingHealth(snapshot);
    const details: TieredCacheHealthDetails = {
      degraded: snapshot.degraded || redis.status === 'down',
      redis,
      bus,
      tracking,
    };

    if (!details.degraded && bus.status !== 'down' && tracking.status !== 'down') return indicator.up(details);
    if (options.requireRedis || snapshot.l2.problem === 'auth' || snapshot.l2.problem === 'tls') return indicator.down(details);
    // NOTE: `degraded()` exists from @nestjs/terminus 12; on 11 the details still say so.
    return typeof indicator.degraded === 'function' ? indicator.degraded(details) : indicator.up(details);
  }

  async #redisHealth(snapshot: CacheStatsSnapshot): Promise<RedisHealth> {
    const { l2 } = snapshot;
    if (!l2.enabled) return { status: 'not configured' };
    if (!l2.connected) {
      const message = l2.problemMessage ?? 'not connected (reconnecting in the background)';
      return l2.problem === undefined ? { status: 'down', message } : { status: 'down', problem: l2.problem, message };
    }
    try {
      const latencyMs = Math.round((await this.cache.ping()) * 100) / 100;
      if (l2.problem !== 'permission') return { status: 'up', latencyMs };
      return { status: 'up', latencyMs, problem: 'permission', missingPermissions: l2.missingPermissions, message: l2.problemMessage! };
    } catch (err) {
      return { status: 'down', message: err instanceof Error ? err.message : String(err) };
    }
  }
}

function busHealth({ bus }: CacheStatsSnapshot): BusHealth {
  if (!bus.enabled) return { status: 'not configured' };
  return { status: bus.connected ? 'up' : 'down' };
}

function trackingHealth({ tracking }: CacheStatsSnapshot): TrackingHealth {
  switch (tracking.status) {
    case 'off':
      return { status: 'not configured' };
    case 'refused':
      return { status: 'refused', message: tracking.refusal ?? 'refused by the server' };
    case 'on':
      return { status: 'up' };
    default:
      return { status: 'down' };
  }
}
