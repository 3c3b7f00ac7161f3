import { type ExecutionContext, SetMetadata } from '@nestjs/common';
import { CACHE_TTL_METADATA } from './compat.constants.js';

/** A TTL in milliseconds computed from the execution context. */
export type CacheTTLFactory = (ctx: ExecutionContext) => Promise<number> | number;

/**
 * How long `CacheInterceptor` keeps a handler's result, in milliseconds (`0`: no expiry, i.e.
 * `foreverTtl`), or a function of the execution context. On a handler or on a controller (the
 * handler's wins). Default: the module's `ttl`.
 *
 * @example @CacheTTL(20_000)
 * @example @CacheTTL((ctx) => (ctx.switchToHttp().getRequest().query.live ? 1_000 : 60_000))
 * @publicApi
 */
export const CacheTTL = (ttl: number | CacheTTLFactory) => SetMetadata(CACHE_TTL_METADATA, ttl);
