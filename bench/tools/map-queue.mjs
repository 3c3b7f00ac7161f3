// A Map bounded at 10 000 keys that drops its oldest key on every set (`map.delete(map.keys().next().value)`,
// as OwnWrites did) against RecentKeys (two generations). µs per set, 200 000 sets, 3 rounds:
//   npm run build && node bench/tools/map-queue.mjs
import { RecentKeys } from '../../dist/keys/recent-keys.util.js';

const MAX = 10_000;
const N = 200_000;
function time(set) {
  const t = performance.now();
  for (let i = 0; i < N; i++) set(`k${i}`, i);
  return (((performance.now() - t) * 1000) / N).toFixed(3);
}
for (let round = 0; round < 3; round++) {
  const m = new Map();
  const queue = time((k, v) => {
    m.delete(k);
    m.set(k, v);
    if (m.size > MAX) m.delete(m.keys().next().value);
  });
  const r = new RecentKeys(MAX);
  const recent = time((k, v) => r.set(k, v));
  console.log(`Map dropping its oldest key: ${queue} µs per set; RecentKeys: ${recent} µs per set`);
}
