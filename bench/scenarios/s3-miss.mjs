// Scenario 3: miss then set, 1 ms loader.
// Phase A (throughput): 100 calls in flight, every call on a fresh key; alternating windows with the floor:
//   raw ioredis (autopipelining) GET -> loader -> SET PX (awaited), JSON.
// Phase B (round trips): 500 sequential misses by the library alone on the Redis server.
//   - server side: CONFIG RESETSTAT + INFO commandstats deltas per miss (every client of the library);
//   - client side (ioredis-based variants, given an instrumented, non-pipelined ioredis instance):
//     a command is "on the caller's path" when it was sent after the call started and its reply
//     arrived before the call resolved; any other command sent during/after the call is background.
// usage: node --expose-gc s3-miss.mjs <variant> <windows> <windowMs>
import { Redis } from 'ioredis';
import {
  REDIS_URL, adminClient, alternate, commandStats, emit, exitWithParent, log, makeValue, median, percentile, pool, sleep, stripAdmin,
} from '../lib/common.mjs';
import { createVariant, instrumentClient, VARIANTS } from '../lib/variants.mjs';

exitWithParent();
const [variant, windowsArg = '5', windowMsArg = '400', seqArg = '500'] = process.argv.slice(2);
const windows = Number(windowsArg);
const windowMs = Number(windowMsArg);
const SEQ = Number(seqArg);
const IN_FLIGHT = 100;
const BATCH = 1_000;
const LOADER_MS = 1;
const MISS_TTL = 120_000;
const WARM_MISSES = 12_000;

const sleep1 = () => new Promise((r) => setTimeout(r, LOADER_MS));
let loaderCalls = 0;
let loaderDurations = null;
const loader = async (id) => {
  loaderCalls++;
  const t = performance.now();
  await sleep1();
  if (loaderDurations) loaderDurations.push(performance.now() - t);
  return makeValue(id);
};

const admin = adminClient();
const floorRedis = new Redis(REDIS_URL, { enableAutoPipelining: true });
const floorGetOrSet = async (id, key) => {
  const s = await floorRedis.get(key);
  if (s !== null) return JSON.parse(s);
  const v = await loader(id);
  await floorRedis.set(key, JSON.stringify(v), 'PX', MISS_TTL);
  return v;
};

// ---------------------------------------------------------------- phase A
let v = await createVariant(variant, { loader, prefix: 'bench:s3:' });
let nextFloorId = 10_000_000;
let nextLibId = 20_000_000;
const floorOp = () => {
  const id = nextFloorId++;
  return floorGetOrSet(id, `floor:item:${id}`);
};
const libFetch = v.fetch;
const libOp = () => {
  const id = nextLibId++;
  return libFetch(id, `item:${id}`);
};
// Warm up (not measured): the code paths, and past the first WARM_MISSES writes, so the windows
// measure an instance in its steady state — bookkeeping bounded at 10 000 keys (recent writes,
// announcements) is full by then (bench/ANALYSIS.md, "A map used as a queue").
await pool(IN_FLIGHT, WARM_MISSES, libOp);
await pool(IN_FLIGHT, 500, floorOp);
const libIdsBefore = nextLibId;
const loadersBefore = loaderCalls;
const floorIdsBefore = nextFloorId;
const pairs = await alternate({
  floor: () => pool(IN_FLIGHT, BATCH, floorOp),
  lib: () => pool(IN_FLIGHT, BATCH, libOp),
  windows,
  windowMs,
  opsPerCall: BATCH,
  count: { floor: () => nextFloorId, lib: () => nextLibId },
});
const expectedLoads = nextLibId - libIdsBefore + (nextFloorId - floorIdsBefore);
const loaderCallsPhaseA = loaderCalls - loadersBefore;
await v.close();
await sleep(300);
floorRedis.disconnect();

// ---------------------------------------------------------------- phase B
v = await createVariant(variant, { loader, prefix: 'bench:s3b:', instrument: true });
const cmdLog = v.client ? instrumentClient(v.client) : null;
for (let i = 0; i < 50; i++) await v.fetch(30_000_000 + i, `item:${30_000_000 + i}`); // warm-up misses
await sleep(200);
if (cmdLog) cmdLog.length = 0;
await admin.config('RESETSTAT');
const calls = [];
loaderDurations = [];
for (let i = 0; i < SEQ; i++) {
  const id = 40_000_000 + i;
  const t0 = performance.now();
  await v.fetch(id, `item:${id}`);
  calls.push([t0, performance.now()]);
}
await sleep(300);
const server = stripAdmin(await commandStats(admin));
const serverPerMiss = {};
for (const [k, n] of Object.entries(server)) serverPerMiss[k] = n / SEQ;

let onPath = null;
let background = null;
let onPathRoundTrips = null;
if (cmdLog) {
  onPath = {};
  background = {};
  let c = 0;
  let trips = 0;
  let lastCall = -1;
  let inFlightUntil = -Infinity;
  for (const rec of cmdLog) {
    while (c < calls.length - 1 && rec.t0 >= calls[c + 1][0]) c++;
    const [t0, t1] = calls[c];
    if (rec.t0 < t0) continue; // before the first measured call
    const on = rec.t0 <= t1 && rec.t1 <= t1;
    const bucket = on ? onPath : background;
    bucket[rec.name] = (bucket[rec.name] ?? 0) + 1;
    if (on) {
      // a round trip starts when a command is sent after every earlier one of this call was answered
      if (c !== lastCall) (lastCall = c), (inFlightUntil = -Infinity);
      if (rec.t0 >= inFlightUntil) trips++, (inFlightUntil = rec.t1);
      else inFlightUntil = Math.max(inFlightUntil, rec.t1);
    }
  }
  for (const b of [onPath, background]) for (const k of Object.keys(b)) b[k] /= SEQ;
  onPathRoundTrips = trips / SEQ;
}
const lat = calls.map(([a, b]) => b - a);
await v.close();

emit({
  scenario: 'miss',
  library: variant,
  kind: VARIANTS[variant].kind,
  windows: pairs,
  loaderCallsPhaseA,
  expectedLoadsPhaseA: expectedLoads,
  sequentialMisses: SEQ,
  serverCommandsPerMiss: serverPerMiss,
  onPathPerMiss: onPath,
  backgroundPerMiss: background,
  onPathRoundTripsPerMiss: onPathRoundTrips,
  seqLatencyP50Ms: median(lat),
  seqLatencyP99Ms: percentile(lat, 99),
  loaderP50Ms: median(loaderDurations),
});
log(`s3 ${variant}: ratios`, pairs.map((p) => p.ratio.toFixed(3)).join(' '), 'server/miss', JSON.stringify(serverPerMiss), 'onPath', JSON.stringify(onPath));
await admin.quit();
process.exit(0);
