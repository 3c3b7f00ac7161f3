// Where the library's CPU per L2 hit goes, layer by layer, without the network: like
// l2-overhead.mjs (the client answers GET from memory with the bytes Redis held), each line adds
// one layer of the read path, alternating rounds, median CPU µs per op.
//   BENCH_REDIS_URL=redis://127.0.0.1:PORT node --expose-gc bench/tools/l2-ablation.mjs [rounds]
import { cpuPerOp, variantWithL2InMemory } from '../lib/l2-in-memory.mjs';
import { median, shuffledIds } from '../lib/common.mjs';

const rounds = Number(process.argv[2] ?? 5);
const N = 10_000;
const OPS = 200_000;
const ids = shuffledIds(N);
const keys = ids.map((i) => `item:${i}`);
const { v, client, stored } = await variantWithL2InMemory('nestjs-tiered-cache:getOrSet [L1 off]', 'bench:abl:', ids, keys);
const service = v.cache;
const engine = service[Object.getOwnPropertySymbols(service)[0]];
const sks = keys.map((k) => engine.storageKey(engine.scope(k)));
const scoped = keys.map((k) => engine.scope(k));
const raws = sks.map((sk) => stored.get(sk));
const policy = engine.options.entry;
const loader = () => {
  throw new Error('no load expected');
};
const check = (x, j) => {
  if (x === undefined || x.id !== ids[j]) throw new Error('bad value');
};
const layers = {
  'floor: in-memory GET + JSON.parse': async (j) => check(JSON.parse(await Promise.resolve(raws[j]))[7], j),
  'client.get (stub) + JSON.parse': async (j) => check(JSON.parse(await client.get(sks[j]))[7], j),
  'RedisTier.get + JSON.parse': async (j) => check(JSON.parse(await engine.shared.get(sks[j]))[7], j),
  'RedisTier.get + engine.decode': async (j) => check(engine.decode(sks[j], await engine.shared.get(sks[j])).value, j),
  'RedisTier.get + ReadPath.accept': async (j) => check(engine.read.accept(sks[j], await engine.shared.get(sks[j]), true).value, j),
  'ReadPath.miss (flight, read, accept, serve)': async (j) => check(await engine.read.miss(scoped[j], loader, policy), j),
  'engine.getOrSet': async (j) => check(await engine.getOrSet(scoped[j], loader, policy), j),
  'service.getOrSet (per-call options)': async (j) => check(await service.getOrSet(keys[j], loader, { ttl: 3_600_000 }), j),
};
const run = (op) => {
  let i = 0;
  return cpuPerOp(() => {
    const j = i;
    if (++i === N) i = 0;
    return op(j);
  }, OPS);
};
const results = Object.fromEntries(Object.keys(layers).map((k) => [k, []]));
for (const op of Object.values(layers)) await run(op);
for (let r = 0; r < rounds; r++) for (const [name, op] of Object.entries(layers)) results[name].push(await run(op));
const floor = median(results['floor: in-memory GET + JSON.parse']);
for (const [name, xs] of Object.entries(results)) console.log(`${median(xs).toFixed(3).padStart(7)} µs/op  +${(median(xs) - floor).toFixed(3)}  ${name}`);
await v.close();
process.exit(0);
