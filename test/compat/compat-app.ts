import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

export type AdapterName = 'express' | 'fastify';
export const ADAPTERS: AdapterName[] = ['express', 'fastify'];

/** A Nest app listening on an ephemeral loopback port; `close()` it after. */
export interface RunningApp {
  app: INestApplication;
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
}

/** A key prefix of its own for each app, so specs sharing one Redis never see each other's entries. */
export function compatPrefix(adapter: AdapterName): string {
  return `compat-${adapter}-${randomUUID()}:`;
}

/** Compiles `metadata` into an app on the given HTTP adapter and starts it on 127.0.0.1:0. */
export async function listen(adapter: AdapterName, metadata: ModuleMetadata): Promise<RunningApp> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication(adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), {
    logger: false,
  });
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/** A GET (or other method) over real HTTP: status, `X-Cache` header and parsed JSON body (if any). */
export async function request<T = unknown>(url: string, init?: RequestInit): Promise<{ status: number; xCache: string | null; body: T; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, xCache: res.headers.get('x-cache'), body: body as T, text };
}

export { eventually, sleep } from '../support/app.js';
