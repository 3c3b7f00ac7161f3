import { type CallHandler, type ExecutionContext, Inject, Injectable, Logger, type NestInterceptor, Optional, StreamableFile } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { lastValueFrom, type Observable, of, tap } from 'rxjs';
import type { Cache } from './cache-manager.interface.js';
import type { CacheKeyFactory } from './cache-key.decorator.js';
import { CACHE_KEY_METADATA, CACHE_MANAGER, CACHE_PUBLIC_METADATA, CACHE_TTL_METADATA, LOAD_ONCE } from './compat.constants.js';
import { TieredCacheManager } from './tiered-cache-manager.js';

/** A handler result that cannot be handed to several requests (a stream, a private response): never cached. */
class Unshareable extends Error {
  constructor(readonly result: unknown) {
    super('not shareable');
  }
}

/**
 * Caches handler results, as `@nestjs/cache-manager`'s `CacheInterceptor` does: `GET` routes
 * keyed by request URL (or by `@CacheKey()`), for `@CacheTTL()` or the module's `ttl`, with an
 * `X-Cache: HIT|MISS` header; a `StreamableFile` is never cached, a `null`/`undefined` result is
 * a miss. Subclasses may override `trackBy` (sync or async), `isRequestCacheable` and
 * `setHeadersWhenHttp`.
 *
 * What differs: concurrent requests for one cold key run the handler once (once for the whole
 * fleet while Redis is up) and all get its result; `X-Cache: MISS` then marks only the request
 * whose handler ran. The result is in L1 before the response leaves, so the next request hits.
 * Server-sent-event routes are never cached.
 *
 * No response is shared across users by accident (the rules of shared HTTP caches, RFC 9111
 * §3.5 and §5.2.2): a request carrying an `Authorization` header is neither served from the cache
 * nor stored, unless the route opts in — `@CacheKey()` on it, `@CachePublic()` on it or its
 * controller, or a subclass overriding `trackBy` (the key is then yours: include the user where
 * responses are per user). A response the handler marks `Cache-Control: private` or `no-store`
 * (`@Header()` or on the response object) is never stored, nor handed to concurrent requests.
 * The first request skipped for `Authorization` on a route logs a warning naming the opt-ins.
 *
 * @example @UseInterceptors(CacheInterceptor) on a controller, or `{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }`
 * @publicApi
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  @Optional()
  @Inject()
  protected readonly httpAdapterHost!: HttpAdapterHost;

  protected allowedMethods = ['GET'];

  /** Handlers whose `Authorization` bypass was already logged. */
  readonly #warned = new WeakSet<object>();

  constructor(
    @Inject(CACHE_MANAGER) protected readonly cacheManager: Cache,
    protected readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<any>> {
    const key = await this.trackBy(context);
    if (!key || this.reflector.get(SSE_METADATA, context.getHandler())) return next.handle();
    const http = context.getType() === 'http';
    if (http && !this.#mayShare(context)) return next.handle();
    const ttl = () => this.#ttl(context);
    // Non-HTTP handlers may stream several messages: they keep the read-then-write behaviour.
    if (http && this.cacheManager instanceof TieredCacheManager) {
      return this.#loadOnce(context, next, key, ttl, this.cacheManager);
    }
    return this.#readThenWrite(context, next, key, ttl);
  }

  /**
   * The request URL for cacheable HTTP requests, else the handler's `@CacheKey()` (a factory's
   * promise is returned as is: `intercept` awaits it). A nil or empty key: not cached.
   */
  protected trackBy(context: ExecutionContext): Promise<string | undefined | null> | string | undefined | null {
    const httpAdapter = this.httpAdapterHost?.httpAdapter;
    const isHttpApp = httpAdapter !== undefined && !!httpAdapter.getRequestMethod;
    const cacheMetadata = this.reflector.get<string | CacheKeyFactory | undefined>(CACHE_KEY_METADATA, context.getHandler());
    if (!isHttpApp || cacheMetadata) return typeof cacheMetadata === 'function' ? cacheMetadata(context) : cacheMetadata;
    if (!this.isRequestCacheable(context)) return undefined;
    return httpAdapter.getRequestUrl(context.getArgByIndex(0));
  }

  protected isRequestCacheable(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    return this.allowedMethods.includes(req.method);
  }

  /** `X-Cache: HIT` when `value` is a cached result, `MISS` when it is nil. */
  protected setHeadersWhenHttp(context: ExecutionContext, value: unknown): void {
    const httpAdapter = this.httpAdapterHost?.httpAdapter;
    if (!httpAdapter) return;
    const response = context.switchToHttp().getResponse();
    httpAdapter.setHeader(response, 'X-Cache', value === null || value === undefined ? 'MISS' : 'HIT');
  }

  async #loadOnce(
    context: ExecutionContext,
    next: CallHandler,
    key: string,
    ttl: () => Promise<number | undefined>,
    cache: TieredCacheManager,
  ): Promise<Observable<unknown>> {
    let ran = false;
    try {
      const value = await cache[LOAD_ONCE](
        key,
        async () => {
          ran = true;
          // What Nest's HTTP layer sends for an Observable is its last value.
          const result = await lastValueFrom(next.handle(), { defaultValue: undefined });
          if (result instanceof StreamableFile || isPrivate(context)) throw new Unshareable(result);
          return result;
        },
        ttl,
      );
      this.setHeadersWhenHttp(context, ran ? undefined : value);
      return of(value);
    } catch (err) {
      if (!(err instanceof Unshareable)) throw err;
      this.setHeadersWhenHttp(context, undefined);
      // Requests that waited for someone else's stream run their own handler.
      return ran ? of(err.result) : next.handle();
    }
  }

  /**
   * `@nestjs/cache-manager`'s behaviour: read, and on a miss run the handler and store its result
   * (a nil result is not stored: it would read back as a miss anyway).
   */
  async #readThenWrite(context: ExecutionContext, next: CallHandler, key: string, ttl: () => Promise<number | undefined>): Promise<Observable<unknown>> {
    try {
      const value = await this.cacheManager.get(key);
      this.setHeadersWhenHttp(context, value);
      if (value !== undefined && value !== null) return of(value);
      const t = await ttl();
      return next.handle().pipe(
        tap(async (response: unknown) => {
          if (response instanceof StreamableFile || response === null || response === undefined || isPrivate(context)) {
            return;
          }
          try {
            await this.cacheManager.set(key, response, t);
          } catch (err) {
            Logger.error(`Could not cache the result of "${key}"`, (err as Error).stack, 'CacheInterceptor');
          }
        }),
      );
    } catch {
      return next.handle();
    }
  }

  /**
   * Whether this HTTP request may be answered from, and stored in, the shared cache: always
   * without `Authorization`; with it, only where the route opted in.
   */
  #mayShare(context: ExecutionContext): boolean {
    const headers = context.switchToHttp().getRequest()?.headers;
    if (headers?.authorization === undefined) return true;
    const handler = context.getHandler();
    if (
      this.trackBy !== CacheInterceptor.prototype.trackBy ||
      this.reflector.get(CACHE_KEY_METADATA, handler) !== undefined ||
      this.reflector.getAllAndOverride<boolean | undefined>(CACHE_PUBLIC_METADATA, [handler, context.getClass()]) === true
    ) {
      return true;
    }
    if (!this.#warned.has(handler)) {
      this.#warned.add(handler);
      Logger.warn(
        `${context.getClass().name}.${handler.name}: requests with an Authorization header are not cached, so one ` +
          "user's response never reaches another (unlike @nestjs/cache-manager, which keys by URL only). If every " +
          'caller gets the same response, add @CachePublic(); if it depends on the user, key it by user with ' +
          '@CacheKey((ctx) => ...) or a trackBy() override.',
        'CacheInterceptor',
      );
    }
    return false;
  }

  async #ttl(context: ExecutionContext): Promise<number | undefined> {
    const ttl = this.reflector.get(CACHE_TTL_METADATA, context.getHandler()) ?? this.reflector.get(CACHE_TTL_METADATA, context.getClass());
    if (ttl === undefined || ttl === null) return undefined;
    return typeof ttl === 'function' ? await ttl(context) : ttl;
  }
}

/**
 * Whether the handler marked its response `Cache-Control: private` or `no-store` (the qualified
 * `private="field"` form included): a shared cache must not store it (RFC 9111 §5.2.2).
 */
function isPrivate(context: ExecutionContext): boolean {
  if (context.getType() !== 'http') return false;
  const response = context.switchToHttp().getResponse();
  const header: unknown = typeof response?.getHeader === 'function' ? response.getHeader('cache-control') : undefined;
  if (header === undefined || header === null) return false;
  return /(?:^|,)\s*(?:private|no-store)\s*(?:[=,]|$)/i.test(Array.isArray(header) ? header.join(',') : String(header));
}
