import { type ExecutionContext, SetMetadata } from '@nestjs/common';
import { CACHE_KEY_METADATA } from './compat.constants.js';

/** A cache key computed from the execution context. */
export type CacheKeyFactory = (ctx: ExecutionContext) => string;

/**
 * The key `CacheInterceptor` stores a handler's result under, instead of the request URL
 * (required for WebSocket and microservice handlers). A route with a key is cached whatever its
 * HTTP method, as in `@nestjs/cache-manager`.
 *
 * @example @CacheKey('events')
 * @publicApi
 */
export const CacheKey = (key: string | CacheKeyFactory) => SetMetadata(CACHE_KEY_METADATA, key);
