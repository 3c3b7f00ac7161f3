import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cacheable } from 'nestjs-tiered-cache';
import { RedisServer } from '../support/redis-server.js';
import { createApp } from '../support/app.js';

@Injectable()
class Products {
  calls = 0;
  @Cacheable({ key: (id: number) => `product:${id}` })
  async findOne(id: number) {
    this.calls++;
    return { id, name: `p${id}` };
  }
}

describe('smoke', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('caches a decorated method', async () => {
    const { app, cache } = await createApp({ redis: redis.url }, { providers: [Products] });
    const p = app.get(Products);
    expect(await p.findOne(1)).toEqual({ id: 1, name: 'p1' });
    expect(await p.findOne(1)).toEqual({ id: 1, name: 'p1' });
    expect(p.calls).toBe(1);
    expect(await cache.get('product:1')).toEqual({ id: 1, name: 'p1' });
    console.log(cache.stats());
    await app.close();
  });
});
