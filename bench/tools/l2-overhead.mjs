// The library's own CPU per L2 hit, without the network: after a warm-up against Redis, the
// variant's client answers GET from memory (the bytes Redis held), so what is left is the cost of
// the read path, the tier wrapper and the codec. Floor: the same in-memory GET + JSON.parse.
// Single process, CPU time per op (process.cpuUsage), alternating rounds; robust to a busy machine.
//   BENCH_REDIS_URL=redis://127.0.0.1:PORT node --expose-gc bench/tools/l2-overhead.mjs "<variant [L1 off]>" [rounds]
//   BENCH_PROFILE=out.cpuprofile profiles the library rounds
//   BENCH_HEAP_PROFILE=out.heapprofile samples the library's allocations (one round)
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { cpuPerOp, variantWithL2InMemory } from '../lib/l2-in-memory.mjs';
import { median, shuffledIds } from '../lib/common.mjs';

const [variant, roundsArg = '8'] = process.argv.slice(2);
const N = 10_000;
const OPS = 200_000;
const ids = shuffledIds(N);
const keys = ids.map((i) => `item:${i}`);
const { v, stored } = await variantWithL2InMemory(variant, 'bench:ovh:', ids, keys);
const raws = [...stored.values()];
let li = 0;
const libOp = async () => {
  const j = li;
  if (++li === N) li = 0;
  const x = await v.fetch(ids[j], keys[j]);
  if (x.id !== ids[j]) throw new Error('bad value');
};
let fi = 0;
const floorGet = (j) => Promise.resolve(raws[j]);
const floorOp = async () => {
  const j = fi;
  if (++fi === N) fi = 0;
  const x = JSON.parse(await floorGet(j));
  if (x[7] === undefined && x.id === undefined) throw new Error('bad value');
};
const run = (op) => cpuPerOp(op, OPS);
await run(libOp);
await run(floorOp);
if (process.env.BENCH_HEAP_PROFILE) {
  const heap = new Session();
  heap.connect();
  await heap.post('HeapProfiler.enable');
  await heap.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await run(libOp);
  const { profile } = await heap.post('HeapProfiler.stopSampling');
  writeFileSync(process.env.BENCH_HEAP_PROFILE, JSON.stringify(profile));
  heap.disconnect();
}
let session;
if (process.env.BENCH_PROFILE) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
}
const lib = [];
const floor = [];
for (let r = 0; r < Number(roundsArg); r++) {
  floor.push(await run(floorOp));
  if (session) await session.post('Profiler.start');
  lib.push(await run(libOp));
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    if (r === 0) writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile));
  }
}
console.log(
  `${variant}: library ${median(lib).toFixed(3)} µs/op (${Math.min(...lib).toFixed(3)}–${Math.max(...lib).toFixed(3)}), ` +
    `floor ${median(floor).toFixed(3)} µs/op, overhead ${(median(lib) - median(floor)).toFixed(3)} µs/op, ratio ${(median(floor) / median(lib)).toFixed(3)}`,
);
await v.close();
process.exit(0);
