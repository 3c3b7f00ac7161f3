import { SetMetadata } from '@nestjs/common';
import { CACHE_PUBLIC_METADATA } from './compat.constants.js';

/**
 * Lets `CacheInterceptor` cache this route (or every route of this controller) under its URL even
 * for requests that carry an `Authorization` header, which it otherwise neither serves from nor
 * stores in the cache. Put it only where every caller gets the same response, whoever they are:
 * the first caller's response is served to all the others. Named after `Cache-Control: public`,
 * the directive that lets a shared HTTP cache store an authenticated response (RFC 9111 §3.5).
 * A handler that marks its response `Cache-Control: private` or `no-store` is still not stored.
 *
 * For per-user responses, key them by user instead: `@CacheKey((ctx) => ...)` or a `trackBy`
 * override that includes the user id.
 *
 * @example
 * ```ts
 * @Get('catalog')
 * @CachePublic() // the same catalog for every signed-in user
 * catalog() { ... }
 * ```
 * @publicApi
 */
export const CachePublic = () => SetMetadata(CACHE_PUBLIC_METADATA, true);
