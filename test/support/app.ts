import 'reflect-metadata';
import { type INestApplicationContext, type ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TieredCacheModule, TieredCacheService, type TieredCacheModuleOptions } from 'nestjs-tiered-cache';

let prefixes = 0;

/** A unique key prefix per app, so suites sharing one Redis never see each other's entries. */
export function uniquePrefix(name = 'test'): string {
  return `${name}-${process.pid}-${++prefixes}:`;
}

/** Boots a Nest application context with the cache and the given providers; close it after. */
export async function createApp(
  options: TieredCacheModuleOptions,
  metadata: ModuleMetadata = {},
): Promise<{ app: INestApplicationContext; cache: TieredCacheService }> {
  const moduleRef = await Test.createTestingModule({
    imports: [TieredCacheModule.forRoot({ keyPrefix: uniquePrefix(), ...options }), ...(metadata.imports ?? [])],
    providers: metadata.providers ?? [],
    controllers: metadata.controllers ?? [],
  }).compile();
  const app = await moduleRef.init();
  return { app, cache: app.get(TieredCacheService) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sleeps until the clock (`Date.now()`) reads `at`, epoch ms; at once if it is past. */
export const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(10);
  }
  return check();
}
