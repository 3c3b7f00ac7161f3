// Hit loop of one library alone (or the L2 floor alone), 100 in flight, for profiling and CPU-per-op checks.
// With an [L1 off] variant every call is an L2 hit; with an L1 variant (and BENCH_IN_FLIGHT=1) an L1 hit.
//   BENCH_REDIS_URL=redis://127.0.0.1:PORT node bench/tools/l2-loop.mjs <variant|floor> [seconds]
//   BENCH_IN_FLIGHT=1             calls in flight (default 100)
//   BENCH_PROFILE=out.cpuprofile  profiles only the measured loop (not the warm-up), via node:inspector
//   BENCH_STATS=1                 prints the library's stats() afterwards
import { Redis } from 'ioredis';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { createVariant } from '../lib/variants.mjs';
import { REDIS_URL, makeValue, pool, shuffledIds, sleep } from '../lib/common.mjs';

const [variant, secs = '4'] = process.argv.slice(2);
const N = 10000;
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 100);
const ids = shuffledIds(N);
const keys = ids.map((i) => `item:${i}`);
let op;
let close = async () => {};
let v;
if (variant === 'floor') {
  const r = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const p = r.pipeline();
  for (let j = 0; j < N; j++) p.set('floor:' + keys[j], JSON.stringify(makeValue(ids[j])));
  await p.exec();
  let i = 0;
  op = async () => {
    const j = i;
    if (++i === N) i = 0;
    const x = JSON.parse(await r.get('floor:' + keys[j]));
    if (x.id !== ids[j]) throw new Error('bad value');
  };
  close = async () => r.disconnect();
} else {
  v = await createVariant(variant, { loader: async (id) => makeValue(id), prefix: 'bench:loop:' });
  await pool(50, N, (j) => v.fetch(ids[j], keys[j]));
  await sleep(300);
  let i = 0;
  op = async () => {
    const j = i;
    if (++i === N) i = 0;
    const x = await v.fetch(ids[j], keys[j]);
    if (x.id !== ids[j]) throw new Error('bad value');
  };
  close = () => v.close();
}
await pool(IN_FLIGHT, 20000, op); // JIT warm-up
let session;
if (process.env.BENCH_PROFILE) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const t0 = performance.now();
let ops = 0;
const elu0 = performance.eventLoopUtilization();
const cpu0 = process.cpuUsage();
while (performance.now() - t0 < Number(secs) * 1000) {
  await pool(IN_FLIGHT, 2000, op);
  ops += 2000;
}
const dt = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile));
}
console.log(
  `${variant}: ${Math.round(ops / dt)} ops/s, CPU ${((cpu.user + cpu.system) / ops).toFixed(2)} µs/op (process), ELU ${performance.eventLoopUtilization(elu0).utilization.toFixed(2)}`,
);
if (process.env.BENCH_STATS && v?.cache?.stats) console.log(JSON.stringify(v.cache.stats()));
await close();
process.exit(0);
