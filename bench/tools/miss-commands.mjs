// Redis commands per sequential miss (INFO commandstats deltas, incl. commands inside scripts) and ms per
// miss, with server-assisted tracking on or off. Needs dist/ (npm run build) and a redis-server on :6390.
//   node bench/tools/miss-commands.mjs on|off
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import * as lib from '../../dist/index.js';
const tracking = process.argv[2] === 'on';
class M {}
Module({ imports: [lib.TieredCacheModule.forRoot({ redis: 'redis://127.0.0.1:6390', keyPrefix: `mc${Date.now()}:`, tracking })] })(M);
const app = await NestFactory.createApplicationContext(M, { logger: false });
const cache = app.get(lib.TieredCacheService);
const admin = new Redis('redis://127.0.0.1:6390');
const stats = async () => Object.fromEntries((await admin.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_')).map((l) => [l.slice(8, l.indexOf(':')), Number(/calls=(\d+)/.exec(l)[1])]));
await cache.getOrSet('warm', async () => 1);
await new Promise((r) => setTimeout(r, 200));
const before = await stats();
const N = 300;
const t0 = performance.now();
for (let i = 0; i < N; i++) await cache.getOrSet(`k${i}`, async () => ({ i }));
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 300));
const after = await stats();
const per = Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k] - (before[k] ?? 0)) / N).toFixed(2)]).filter(([, v]) => v !== '0.00'));
console.log(`tracking ${tracking ? 'on ' : 'off'}: ${(ms / N).toFixed(3)} ms per sequential miss; per miss:`, JSON.stringify(per));
await app.close(); admin.disconnect();
