// Scenario 1: L1 hit. 10 000 warm keys, random order, one awaited call at a time.
// Floor: `async (k) => lru.get(k)` awaited, on `new LRUCache({ max: 50_000 })` holding the same values.
// Alternating mitata windows of floor and library in this one process.
// usage: node --expose-gc s1-l1hit.mjs <variant> <windows> <windowMs>
import { LRUCache } from 'lru-cache';
import {
  adminClient, alternate, checkValue, commandStats, emit, exitWithParent, log, makeValue, pool, shuffledIds, sleep, stripAdmin,
} from '../lib/common.mjs';
import { createVariant, VARIANTS } from '../lib/variants.mjs';

exitWithParent();
const [variant, windowsArg = '5', windowMsArg = '400'] = process.argv.slice(2);
const windows = Number(windowsArg);
const windowMs = Number(windowMsArg);
const N = 10_000;

const ids = shuffledIds(N);
const keys = ids.map((i) => `item:${i}`);

// floor
const lru = new LRUCache({ max: 50_000 });
for (let i = 0; i < N; i++) lru.set(`item:${i}`, makeValue(i));
const floorGet = async (k) => lru.get(k);

let loaderCalls = 0;
const loader = async (id) => {
  loaderCalls++;
  return makeValue(id);
};

const admin = adminClient();
const v = await createVariant(variant, { loader, prefix: 'bench:s1:' });

// Warm: every key loaded once through the library's own get-or-set (fills L1 and L2).
const t0 = performance.now();
await pool(20, N, (j) => v.fetch(ids[j], keys[j]));
const warmMs = performance.now() - t0;
const warmLoaderCalls = loaderCalls;
// A second pass: every key must now be a hit (no loader call).
for (let j = 0; j < N; j++) await v.fetch(ids[j], keys[j]);
await sleep(300); // let background L2 writes settle

let bad = 0;
for (let j = 0; j < 200; j++) if (!checkValue(await v.fetch(ids[j], keys[j]), ids[j])) bad++;

const loadersBefore = loaderCalls;
const cmdsBefore = stripAdmin(await commandStats(admin));

let fi = 0;
let fn = 0;
const floorFn = () => {
  fn++;
  const k = keys[fi];
  if (++fi === N) fi = 0;
  return floorGet(k);
};
let li = 0;
let ln = 0;
const fetch = v.fetch;
const libFn = () => {
  ln++;
  const j = li;
  if (++li === N) li = 0;
  return fetch(ids[j], keys[j]);
};

const pairs = await alternate({ floor: floorFn, lib: libFn, windows, windowMs, count: { floor: () => fn, lib: () => ln } });

const cmdsAfter = stripAdmin(await commandStats(admin));
let redisCmds = 0;
for (const [k, n] of Object.entries(cmdsAfter)) redisCmds += n - (cmdsBefore[k] ?? 0);

emit({
  scenario: 'l1-hit',
  library: variant,
  kind: VARIANTS[variant].kind,
  windows: pairs,
  warmMs,
  warmLoaderCalls,
  loaderCallsDuringRun: loaderCalls - loadersBefore,
  redisCommandsDuringRun: redisCmds,
  valueCheckFailures: bad,
});
log(`s1 ${variant}: median ratio`, pairs.map((p) => p.ratio.toFixed(4)).join(' '));
await v.close();
await admin.quit();
process.exit(0);
