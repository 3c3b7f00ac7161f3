// Shared helpers for the benchmark scripts: values, keys, statistics, result output, Redis admin,
// the alternating-window runner (mitata) and tsc's legacy-decorator helpers.
import { measure } from 'mitata';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Forced full GCs with pauses between (run with --expose-gc), before reading memory. */
export async function settleGc() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await sleep(20);
  }
}

export const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
export const QUICK = process.env.BENCH_QUICK === '1';
export const TTL_MS = 3_600_000;

export function redisHostPort(url = REDIS_URL) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

// ---------------------------------------------------------------------------------------------
// Values: the same ~1 KB object shape for every library (JSON.stringify length 1000-1030 bytes).
const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore ' +
  'magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo ' +
  'consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.';

const DESCRIPTION = LOREM + ' ' + LOREM.slice(0, 160);

// The JSON text of item `id`.
export function valueJson(id) {
  const n = Number(id);
  return JSON.stringify({
    id: n,
    sku: `SKU-${String(n).padStart(8, '0')}`,
    name: `Product number ${n}`,
    price: 1999 + (n % 1000),
    currency: 'EUR',
    inStock: n % 3 !== 0,
    rating: 4.25,
    tags: ['alpha', 'beta', 'gamma', 'delta', 'epsilon'],
    dimensions: { width: 10.5, height: 20.25, depth: 30, unit: 'cm' },
    variants: [
      { code: 'S', stock: n % 7, color: 'red' },
      { code: 'M', stock: n % 11, color: 'green' },
      { code: 'L', stock: n % 13, color: 'blue' },
    ],
    supplier: { id: 1000 + (n % 50), name: 'ACME Wholesale Ltd', country: 'DE' },
    createdAt: '2026-11-23T12:00:00.000Z',
    updatedAt: '2026-11-23T12:30:00.000Z',
    description: DESCRIPTION,
  });
}

// The value a loader returns: parsed from JSON, like a row from a database driver or an HTTP body,
// so every object owns flat strings (no strings shared between objects, no cons strings that a
// later JSON.stringify would flatten and grow).
export function makeValue(id) {
  return JSON.parse(valueJson(id));
}

export const VALUE_BYTES = JSON.stringify(makeValue(1234)).length;

export function checkValue(v, id) {
  return v != null && v.id === Number(id) && v.sku === `SKU-${String(Number(id)).padStart(8, '0')}`;
}

// Deterministic shuffled order of ids 0..n-1 (mulberry32).
export function shuffledIds(n, seed = 42) {
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ids = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Statistics
export function median(xs) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!a.length) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

export function percentile(xs, p) {
  const a = [...xs].sort((x, y) => x - y);
  if (!a.length) return NaN;
  const idx = Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1));
  return a[idx];
}

export const round = (x, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

// ---------------------------------------------------------------------------------------------
// Output: every result line on stdout starts with '@@R ' and is one JSON object. The driver
// (run-all.mjs) collects them; anything else on stdout/stderr is log.
export function emit(record) {
  process.stdout.write('@@R ' + JSON.stringify({ pid: process.pid, ...record }) + '\n');
}

export function log(...args) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${args.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Redis admin (its own connection, not auto-pipelined).
export function adminClient() {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

export async function commandStats(admin) {
  const info = await admin.info('commandstats');
  const out = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

const ADMIN_CMDS = new Set(['info', 'config|resetstat', 'config', 'ping', 'client|setinfo', 'client|setname', 'hello', 'select', 'auth']);
export function stripAdmin(stats) {
  const out = {};
  for (const [k, v] of Object.entries(stats)) if (!ADMIN_CMDS.has(k)) out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Alternating windows: floor, lib, floor, lib ... (who goes first alternates), each window a
// mitata `measure` of at least `windowMs` of sample time. Returns per-window pairs.
// `opsPerCall` is how many operations one call of fn performs (for batched concurrent fns).
// With `count: { floor, lib }` (functions returning how many operations ran so far), each window also
// reports this process's CPU time per operation (user + system, GC threads included): a cross-check
// that other processes on a shared machine disturb less than throughput. A full GC runs before each
// window, outside the measurement (run node with --expose-gc).
export async function alternate({ floor, lib, windows, windowMs, opsPerCall = 1, warmupWindows = 1, count }) {
  const opts = () => ({
    min_cpu_time: windowMs * 1e6,
    min_samples: 4,
    max_samples: 1e9,
    warmup_samples: 2,
    gc: false,
  });
  const run = async (fn, counter) => {
    globalThis.gc?.();
    const n0 = counter?.();
    const c0 = process.cpuUsage();
    const st = await measure(fn, opts());
    const c = process.cpuUsage(c0);
    const ops = counter ? counter() - n0 : 0;
    return { opsPerSec: (opsPerCall * 1e9) / st.avg, cpuUsPerOp: ops ? (c.user + c.system) / ops : null };
  };
  for (let w = 0; w < warmupWindows; w++) {
    await run(floor, count?.floor);
    await run(lib, count?.lib);
  }
  const pairs = [];
  for (let w = 0; w < windows; w++) {
    let f, l;
    if (w % 2 === 0) {
      f = await run(floor, count?.floor);
      l = await run(lib, count?.lib);
    } else {
      l = await run(lib, count?.lib);
      f = await run(floor, count?.floor);
    }
    const pair = { floorOps: f.opsPerSec, libOps: l.opsPerSec, ratio: l.opsPerSec / f.opsPerSec };
    if (f.cpuUsPerOp != null && l.cpuUsPerOp != null) {
      pair.floorCpuUsPerOp = f.cpuUsPerOp;
      pair.libCpuUsPerOp = l.cpuUsPerOp;
      pair.cpuRatio = f.cpuUsPerOp / l.cpuUsPerOp; // > 1 would mean the library costs less CPU than the floor
    }
    pairs.push(pair);
  }
  return pairs;
}

// A pool of `concurrency` async workers performing `total` operations (op(i) for i in order).
export function pool(concurrency, total, op) {
  let i = 0;
  const worker = async () => {
    while (i < total) {
      const k = i++;
      await op(k);
    }
  };
  const ws = new Array(concurrency);
  for (let c = 0; c < concurrency; c++) ws[c] = worker();
  return Promise.all(ws);
}

// ---------------------------------------------------------------------------------------------
// tsc's emit helpers for `experimentalDecorators` + `emitDecoratorMetadata` (copied from tslib).
export const __decorate = function (decorators, target, key, desc) {
  var c = arguments.length,
    r = c < 3 ? target : desc === null ? (desc = Object.getOwnPropertyDescriptor(target, key)) : desc,
    d;
  if (typeof Reflect === 'object' && typeof Reflect.decorate === 'function') r = Reflect.decorate(decorators, target, key, desc);
  else
    for (var i = decorators.length - 1; i >= 0; i--)
      if ((d = decorators[i])) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
  return c > 3 && r && Object.defineProperty(target, key, r), r;
};
export const __metadata = function (k, v) {
  if (typeof Reflect === 'object' && typeof Reflect.metadata === 'function') return Reflect.metadata(k, v);
};
export const __param = function (paramIndex, decorator) {
  return function (target, key) {
    decorator(target, key, paramIndex);
  };
};

// Exit when the parent (driver) goes away, so no orphan keeps running.
export function exitWithParent() {
  if (process.send) process.on('disconnect', () => process.exit(0));
}
