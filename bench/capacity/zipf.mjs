// The workload's key popularity: Zipf over `n` keys with exponent `s` (rank r has weight r^-s),
// shared by the fleet's instances (sampling) and the capacity model (exact sums over the ranks).

/** Normalized Zipf probabilities: p[r - 1] is the share of requests for the key of rank r. */
export function zipfProbabilities(n, s) {
  const p = new Float64Array(n);
  let sum = 0;
  for (let r = 1; r <= n; r++) sum += p[r - 1] = r ** -s;
  for (let i = 0; i < n; i++) p[i] /= sum;
  return p;
}

/** Cumulative distribution of `p`, for sampling by inversion. */
export function cumulative(p) {
  const cdf = new Float64Array(p.length);
  let acc = 0;
  for (let i = 0; i < p.length; i++) cdf[i] = acc += p[i];
  cdf[p.length - 1] = 1;
  return cdf;
}

/** mulberry32: a small seeded PRNG, so each instance draws a reproducible sequence. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A key index (0 = most popular) drawn from `cdf` by binary search. */
export function draw(cdf, u) {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
