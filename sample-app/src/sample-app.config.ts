import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type HttpAdapterName = 'fastify' | 'express';

/** Everything the sample app can be told; `configFromEnv()` reads it from the environment. */
export interface SampleAppConfig {
  /** `HTTP_ADAPTER`: `fastify` (default) or `express`. */
  adapter: HttpAdapterName;
  /** `PORT`, default 3000. */
  port: number;
  /** `HOST`, default 127.0.0.1 (use 0.0.0.0 in a container). */
  host: string;
  /** `REDIS_URL`, default redis://127.0.0.1:6379. */
  redisUrl: string;
  /** Prefix of every Redis key the cache writes. Instances that share data share the prefix. */
  keyPrefix: string;
  /** `DB_LATENCY_MS`: how long each query of the fake database takes, default 100 ms. */
  dbLatencyMs: number;
  /**
   * `DB_FILE`: where the fake database keeps its rows, so that several instances on one machine
   * share them. Default: a JSON file in the OS temp directory. `:memory:` keeps them in process.
   */
  dbFile: string | undefined;
  /**
   * `L1_TTL_MS`: how long an instance keeps an entry in its in-process L1, default 5000 ms. It is
   * also the longest another instance can serve a changed product while invalidations cannot reach it.
   */
  l1TtlMs?: number;
  /** Nest logger on (main) or off (tests). */
  logger: boolean;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): SampleAppConfig {
  const adapter = env.HTTP_ADAPTER ?? 'fastify';
  if (adapter !== 'fastify' && adapter !== 'express') {
    throw new Error(`HTTP_ADAPTER must be "fastify" or "express", got "${adapter}"`);
  }
  const dbFile = env.DB_FILE ?? join(tmpdir(), 'nestjs-tiered-cache-sample-db.json');
  return {
    adapter,
    port: toInt('PORT', env.PORT, 3000),
    host: env.HOST ?? '127.0.0.1',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: 'sample:',
    dbLatencyMs: toInt('DB_LATENCY_MS', env.DB_LATENCY_MS, 100),
    dbFile: dbFile === ':memory:' ? undefined : dbFile,
    l1TtlMs: toInt('L1_TTL_MS', env.L1_TTL_MS, 5_000),
    logger: true,
  };
}

function toInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** A Redis URL fit for a log line: its user and password (`redis://user:secret@host`) masked. */
export function withoutCredentials(url: string): string {
  return url.replace(/(\/\/)[^/@\s]*@/, '$1***@');
}
