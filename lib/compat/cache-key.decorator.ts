import { type ExecutionContext, SetMetadata } from '@nestjs/common';
import { CACHE_KEY_METADATA } from './compat.constants.js';

/**
 * A cache key computed from the execution context, possibly asynchronously (`CacheInterceptor`
 * awaits it). An empty or nil key leaves the request uncached.
 */
export type CacheKeyFactory = (ctx: ExecutionContext) => string | Promise<string | undefined> | undefined;

/**
 * The key `CacheInterceptor` stores a handler's result under, instead of the request URL
 * (required for WebSocket and microservice handlers). A route with a key is cached whatever its
 * HTTP method, as in `@nestjs/cache-manager`, and also for requests carrying `Authorization`:
 * the key is yours, so is the decision of who shares the entry (see `CacheInterceptor`).
 *
 * @example @CacheKey('events')
 * @example @CacheKey(async (ctx) => `report:${await tenantOf(ctx)}`)
 * @publicApi
 */
export const CacheKey = (key: string | CacheKeyFactory) => SetMetadata(CACHE_KEY_METADATA, key);
