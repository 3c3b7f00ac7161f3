// GET vs EVALSHA of READ_OR_LEASE's shape (GET, else SET NX PX, else PTTL) on present keys: 100 in flight, auto-pipelined,
// 1 KB JSON, 6 alternating rounds of 100 000 reads each; prints ops/s and client CPU µs per read per round, then
// the server's INFO commandstats (usec_per_call). Needs a redis-server of your own (it writes k{0..9999}):
//   BENCH_REDIS_URL=redis://127.0.0.1:<port> node bench/tools/get-vs-evalsha.mjs
import { Redis } from 'ioredis';
const c = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6390', { enableAutoPipelining: true });
const body = `local v = redis.call('GET', KEYS[1])
if v then return v end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return -3 end
return redis.call('PTTL', KEYS[2])`;
const sha = await c.script('LOAD', body);
const val = JSON.stringify({ v: 1, d: 'x'.repeat(1000) });
for (let i = 0; i < 10000; i++) await c.set(`k{${i}}`, val);
const N = 100000;
async function run(kind) {
  let i = 0; const t0 = process.hrtime.bigint(); const cpu0 = process.cpuUsage();
  const worker = async () => { while (i < N) { const k = `k{${i++ % 10000}}`;
    const r = kind === 'get' ? await c.get(k) : await c.evalsha(sha, 2, k, `${k}:lease`, 'tok', 5000);
    JSON.parse(r); } };
  await Promise.all(Array.from({ length: 100 }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6; const cpu = process.cpuUsage(cpu0);
  return { kind, opsPerSec: Math.round(N / ms * 1000), cpuUsPerOp: +((cpu.user + cpu.system) / N).toFixed(2) };
}
const res = { get: [], eval: [] };
for (let r = 0; r < 6; r++) for (const k of r % 2 ? ['eval', 'get'] : ['get', 'eval']) res[k].push(await run(k));
for (const k of ['get', 'eval']) console.log(k, res[k].map((x) => x.opsPerSec).join(' '), 'cpu', res[k].map((x) => x.cpuUsPerOp).join(' '));
const info = await c.info('commandstats'); console.log(info.split('\n').filter(l=>/get|evalsha/.test(l)).join('\n'));
c.disconnect();
