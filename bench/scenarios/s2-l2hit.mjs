// Scenario 2: L2 hit (L1 off or always missing), 100 requests in flight, 1 KB JSON value, 10 000 keys, random order.
// Floor: raw ioredis (enableAutoPipelining: true) GET + JSON.parse, alternating with the library in this process.
// Each library reads back values it wrote itself, in its own wire format.
// usage: node --expose-gc s2-l2hit.mjs <variant> <windows> <windowMs>
import { Redis } from 'ioredis';
import {
  REDIS_URL, TTL_MS, adminClient, alternate, checkValue, commandStats, emit, exitWithParent, log, makeValue, pool, shuffledIds, sleep, stripAdmin,
} from '../lib/common.mjs';
import { createVariant, VARIANTS } from '../lib/variants.mjs';

exitWithParent();
const [variant, windowsArg = '5', windowMsArg = '400'] = process.argv.slice(2);
const windows = Number(windowsArg);
const windowMs = Number(windowMsArg);
const N = 10_000;
const IN_FLIGHT = 100;
const BATCH = 2_000; // operations per measured call (kept 100 in flight by a worker pool)

const ids = shuffledIds(N);
const keys = ids.map((i) => `item:${i}`);
const floorKeys = ids.map((i) => `floor:item:${i}`);

const admin = adminClient();
const floorRedis = new Redis(REDIS_URL, { enableAutoPipelining: true });
{
  const p = floorRedis.pipeline();
  for (let j = 0; j < N; j++) p.set(floorKeys[j], JSON.stringify(makeValue(ids[j])), 'PX', TTL_MS);
  await p.exec();
}

let loaderCalls = 0;
const loader = async (id) => {
  loaderCalls++;
  return makeValue(id);
};
const v = await createVariant(variant, { loader, prefix: 'bench:s2:' });

const t0 = performance.now();
await pool(50, N, (j) => v.fetch(ids[j], keys[j]));
const warmMs = performance.now() - t0;
const warmLoaderCalls = loaderCalls;
await sleep(300); // background L2 writes

let bad = 0;
for (let j = 0; j < 200; j++) if (!checkValue(await v.fetch(ids[j], keys[j]), ids[j])) bad++;

let floorOps = 0;
let libOps = 0;
let fi = 0;
const floorOp = async () => {
  const j = fi;
  if (++fi === N) fi = 0;
  floorOps++;
  const v = JSON.parse(await floorRedis.get(floorKeys[j]));
  if (v.id !== ids[j]) bad++;
};
let li = 0;
const fetch = v.fetch;
const libOp = async () => {
  const j = li;
  if (++li === N) li = 0;
  libOps++;
  const v = await fetch(ids[j], keys[j]);
  if (v.id !== ids[j]) bad++;
};

const loadersBefore = loaderCalls;
const cmdsBefore = stripAdmin(await commandStats(admin));
const pairs = await alternate({
  floor: () => pool(IN_FLIGHT, BATCH, floorOp),
  lib: () => pool(IN_FLIGHT, BATCH, libOp),
  windows,
  windowMs,
  opsPerCall: BATCH,
  count: { floor: () => floorOps, lib: () => libOps },
});
const cmdsAfter = stripAdmin(await commandStats(admin));
const delta = {};
let total = 0;
for (const [k, n] of Object.entries(cmdsAfter)) {
  const d = n - (cmdsBefore[k] ?? 0);
  if (d) (delta[k] = d), (total += d);
}

emit({
  scenario: 'l2-hit',
  library: variant,
  kind: VARIANTS[variant].kind,
  windows: pairs,
  warmMs,
  warmLoaderCalls,
  loaderCallsDuringRun: loaderCalls - loadersBefore,
  // every floor op is exactly one GET; the rest is the library's
  libCommandsPerOp: (total - floorOps) / libOps,
  commandsDuringRun: delta,
  valueCheckFailures: bad,
});
log(`s2 ${variant}: ratios`, pairs.map((p) => p.ratio.toFixed(3)).join(' '), 'lib ops/s', pairs.map((p) => Math.round(p.libOps)).join(' '));
await v.close();
floorRedis.disconnect();
await admin.quit();
process.exit(0);
