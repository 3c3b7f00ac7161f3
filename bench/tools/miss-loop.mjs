// Cold-key misses through getOrSet, 100 in flight, 1 ms loader, for a CPU profile of the miss path.
// Needs dist/ (npm run build) and a redis-server of your own:
//   BENCH_REDIS_URL=redis://127.0.0.1:<port> node --cpu-prof --cpu-prof-dir=/tmp/prof bench/tools/miss-loop.mjs [seconds] [on|off]
// ([on|off]: tracking, default on). Prints misses per second and CPU µs per miss.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
const lib = await import(process.env.BENCH_OURS_DIST || '../../dist/index.js');
const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6390';
const seconds = Number(process.argv[2] ?? 3);
const tracking = process.argv[3] !== 'off';
class M {}
Module({ imports: [lib.TieredCacheModule.forRoot({ redis: url, keyPrefix: `ml${Date.now()}:`, tracking })] })(M);
const app = await NestFactory.createApplicationContext(M, { logger: false });
const cache = app.get(lib.TieredCacheService);
const value = { text: 'x'.repeat(1000) };
const loader = () => new Promise((r) => setTimeout(() => r(value), 1));
let n = 0;
const until = performance.now() + seconds * 1000;
const cpu0 = process.cpuUsage();
const worker = async () => {
  while (performance.now() < until) await cache.getOrSet(`k${n++}`, loader);
};
await Promise.all(Array.from({ length: 100 }, worker));
const cpu = process.cpuUsage(cpu0);
console.log(`${(n / seconds).toFixed(0)} misses/s, ${((cpu.user + cpu.system) / n).toFixed(1)} CPU µs per miss (tracking ${tracking ? 'on' : 'off'})`);
await app.close();
