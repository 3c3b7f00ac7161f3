// Cold-key misses through getOrSet, 100 in flight, 1 ms loader, for a CPU profile of the miss path.
// Needs dist/ (npm run build) and a redis-server of your own:
//   BENCH_REDIS_URL=redis://127.0.0.1:<port> node --cpu-prof --cpu-prof-dir=/tmp/prof bench/tools/miss-loop.mjs [seconds] [on|off]
// ([on|off]: tracking, default on; floor: raw ioredis GET, the loader, SET PX, as scenario 3's floor).
// Prints misses per second and CPU µs per miss.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { Redis } from 'ioredis';
const lib = await import(process.env.BENCH_OURS_DIST || '../../dist/index.js');
const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6390';
const seconds = Number(process.argv[2] ?? 3);
const mode = process.argv[3] ?? 'on';
const tracking = mode !== 'off';
const value = { text: 'x'.repeat(1000) };
const loader = () => new Promise((r) => setTimeout(() => r(value), 1));
let cache;
let close;
if (mode === 'floor') {
  const redis = new Redis(url, { enableAutoPipelining: true });
  const prefix = `mlf${Date.now()}:`;
  cache = {
    async getOrSet(key, load) {
      const s = await redis.get(prefix + key);
      if (s !== null) return JSON.parse(s);
      const v = await load();
      await redis.set(prefix + key, JSON.stringify(v), 'PX', 120_000);
      return v;
    },
  };
  close = () => redis.quit();
} else {
  class M {}
  Module({ imports: [lib.TieredCacheModule.forRoot({ redis: url, keyPrefix: `ml${Date.now()}:`, tracking })] })(M);
  const app = await NestFactory.createApplicationContext(M, { logger: false });
  cache = app.get(lib.TieredCacheService);
  close = () => app.close();
}
let n = 0;
const until = performance.now() + seconds * 1000;
const cpu0 = process.cpuUsage();
const worker = async () => {
  while (performance.now() < until) await cache.getOrSet(`k${n++}`, loader);
};
await Promise.all(Array.from({ length: 100 }, worker));
const cpu = process.cpuUsage(cpu0);
console.log(`${(n / seconds).toFixed(0)} misses/s, ${((cpu.user + cpu.system) / n).toFixed(1)} CPU µs per miss (${mode === 'floor' ? 'floor' : `tracking ${mode}`})`);
await close();
