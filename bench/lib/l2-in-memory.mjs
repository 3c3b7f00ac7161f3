// For measuring the library's own CPU per L2 hit without the network (bench/tools/l2-overhead.mjs,
// l2-ablation.mjs): a variant warmed against Redis whose client then answers GET from memory with
// the bytes Redis held.
import { createVariant } from './variants.mjs';
import { makeValue, pool, sleep } from './common.mjs';

/** The variant (its client instrumented), warmed on `ids`/`keys`; `stored`: the bytes under `prefix`. */
export async function variantWithL2InMemory(variant, prefix, ids, keys) {
  const v = await createVariant(variant, { loader: async (id) => makeValue(id), prefix, instrument: true });
  await pool(50, ids.length, (j) => v.fetch(ids[j], keys[j]));
  await sleep(300);
  const client = v.client;
  const stored = new Map();
  for (const k of await client.keys(`${prefix}*`)) stored.set(k, await client.get(k));
  client.get = (k) => Promise.resolve(stored.get(k) ?? null);
  return { v, client, stored };
}

/** This process's CPU time (user + system) per call of `op`, `ops` calls with 100 in flight, in µs. */
export async function cpuPerOp(op, ops) {
  globalThis.gc?.();
  const c0 = process.cpuUsage();
  await pool(100, ops, op);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / ops;
}
