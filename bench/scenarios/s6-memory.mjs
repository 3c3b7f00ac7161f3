// Scenario 6: memory of 100 000 cached ~1 KB entries, measured in a fresh process (run with --expose-gc).
// Heap and RSS are read after forced GCs before and after filling; the cache is the only holder of the values.
//   lru-cache (raw)                        new LRUCache({ max, ttl }).set(key, value)
//   nestjs-tiered-cache:set [L1 only]      forRoot({ redis: false, l1: { max } }), cache.set(key, value)
//   nestjs-tiered-cache:getOrSet [L1+L2]   forRoot({ redis: url, l1: { max, ttl } }), cache.getOrSet(key, loader)
// usage: node --expose-gc s6-memory.mjs <variant> <entries>
import { LRUCache } from 'lru-cache';
import { TTL_MS, emit, log, makeValue, pool, settleGc, sleep } from '../lib/common.mjs';
import { createVariant } from '../lib/variants.mjs';

const [variant, entriesArg = '100000'] = process.argv.slice(2);
const N = Number(entriesArg);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

const settle = settleGc;
const keyOf = (i) => `item:${i}`;

let cache;
let fill;
let close = async () => {};
if (variant === 'lru-cache (raw)') {
  cache = new LRUCache({ max: N, ttl: TTL_MS });
  fill = async () => {
    for (let i = 0; i < N; i++) cache.set(keyOf(i), makeValue(i));
  };
} else if (variant === 'nestjs-tiered-cache:set [L1 only]') {
  const v = await createVariant('nestjs-tiered-cache:getOrSet', { loader: async (id) => makeValue(id), prefix: 'bench:s6:', redis: false, l1Max: N });
  close = () => v.close();
  fill = async () => {
    for (let i = 0; i < N; i++) await v.set(keyOf(i), makeValue(i));
  };
} else if (variant === 'nestjs-tiered-cache:getOrSet [L1+L2]') {
  const v = await createVariant('nestjs-tiered-cache:getOrSet', { loader: async (id) => makeValue(id), prefix: 'bench:s6:', l1Max: N });
  close = () => v.close();
  fill = async () => {
    await pool(50, N, (i) => v.fetch(i, keyOf(i)));
    await sleep(500); // background L2 writes drain
  };
} else throw new Error(`unknown memory variant ${variant}`);

await settle();
const before = process.memoryUsage();
const t0 = performance.now();
await fill();
const fillMs = performance.now() - t0;
await settle();
const after = process.memoryUsage();
emit({
  scenario: 'memory',
  library: variant,
  kind: variant.startsWith('nestjs') ? 'ours' : 'floor',
  entries: N,
  heapUsedBytes: after.heapUsed - before.heapUsed,
  rssBytes: after.rss - before.rss,
  externalBytes: after.external - before.external,
  // V8's committed heap: what it holds beyond heapUsed is free space inside its pages (kept until
  // V8 compacts them), the part of RSS the cache does not hold (see s6-growth.mjs).
  heapTotalBytes: after.heapTotal - before.heapTotal,
  heapPerEntryBytes: (after.heapUsed - before.heapUsed) / N,
  fillMs,
});
log(`s6 ${variant}: heap +${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)} MiB rss +${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MiB`);
await close();
process.exit(0);
