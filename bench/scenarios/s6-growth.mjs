// Scenario 6b: does the L1+L2 variant's extra RSS grow with the number of writes? Fills an L1 of
// N entries, then keeps writing new keys (the L1 evicts, so it holds N entries throughout) and
// prints RSS, V8's committed heap and the heap used after every N writes, each after forced GCs.
// With `compact` it finally runs one compacting full GC, to show the free space inside V8's pages
// is what RSS holds beyond the cache.
//   node --expose-gc s6-growth.mjs <raw|ours> [N=100000] [rounds=4] [compact]
// (BENCH_REDIS_URL for ours). Prints one line per round.
import v8 from 'node:v8';
import { LRUCache } from 'lru-cache';
import { makeValue, pool, settleGc, sleep, TTL_MS } from '../lib/common.mjs';
import { createVariant } from '../lib/variants.mjs';

const [variant = 'ours', nArg = '100000', roundsArg = '4', compact] = process.argv.slice(2);
const N = Number(nArg);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
const settle = settleGc;
const mib = (b) => (b / 2 ** 20).toFixed(1);

let fetch;
let close = async () => {};
if (variant === 'raw') {
  const lru = new LRUCache({ max: N, ttl: TTL_MS });
  fetch = async (i) => lru.set(`item:${i}`, makeValue(i));
} else {
  const v = await createVariant('nestjs-tiered-cache:getOrSet', { loader: async (id) => makeValue(id), prefix: `bench:s6b:${process.pid}:`, l1Max: N });
  fetch = (i) => v.fetch(i, `item:${i}`);
  close = () => v.close();
}

await settle();
const before = process.memoryUsage();
const print = (label) => {
  const m = process.memoryUsage();
  console.log(`${variant} ${label}: rss +${mib(m.rss - before.rss)} MiB, V8 heap committed +${mib(m.heapTotal - before.heapTotal)} MiB, heap used +${mib(m.heapUsed - before.heapUsed)} MiB`);
};
for (let r = 1; r <= Number(roundsArg); r++) {
  await pool(50, N, (i) => fetch((r - 1) * N + i));
  await sleep(500); // background Redis writes drain
  await settle();
  print(`${r * N} writes`);
}
if (compact === 'compact') {
  v8.setFlagsFromString('--compact-on-every-full-gc');
  await settle();
  print('after a compacting GC');
}
await close();
process.exit(0);
