// The capacity model: per-request Redis load of a fleet from the workload (Zipf popularity,
// write share), the fleet size and the L1 size, under the independent-reference assumption
// (every request draws its key independently from the same Zipf distribution).
//
// Per instance, key k (request share p) is in L1 when this instance's last access to it was a read
// or a set (not a delete), no other instance wrote k since (a write there reaches this L1 over the
// bus), and the access is recent enough for LRU to keep it: within the last t own requests, where t
// is the characteristic time of the LRU (Che's approximation: the window in which the expected
// number of distinct resident keys equals l1.max), also bounded by the L1 TTL and by the instance's
// age (a cold L1 holds at most what it has seen).
//   q = (1 - w p)^(N-1)           no other instance writes k during one own request
//   h(t) = (1 - w/2) p q (1 - ((1-p) q)^t) / (1 - (1-p) q)      P(k in L1), window of t requests
// L2 holds k when the fleet's last access to it was not a delete and (cold start) happened at all
// in the I fleet requests so far, or (steady state) the entry's TTL has not run out since its fill:
//   g = (1 - w/2) (1 - (1-p)^I)      or      g = (1 - w/2) λT / (1 + λT),  λ = fleet rate × p
// Per read: L1 hit = Σ p h, L2 hit = Σ p (g - h), miss (load through the lease) = Σ p (1 - g).
// Redis work per request = reads × (L2 hit × cost of a hit + miss × cost of a miss)
//                        + writes × (cost of a set or delete)
//                        + messages × (N - 1) × cost of one delivery to another subscriber,
// with messages per request = writes + misses (the lease's fill announces the value), and the
// costs of each class measured once on one instance (calibration in bench/capacity.mjs).
import { zipfProbabilities } from './zipf.mjs';

const cache = new Map();
/**
 * The Zipf shares as (share, how many keys) buckets: the 1 000 most popular keys exactly, the tail
 * in buckets of ranks whose shares differ by under 0.1% (every sum below is smooth in the share),
 * so a sum over a million keys costs a few thousand terms.
 */
export function probabilities(n, s) {
  const id = `${n}:${s}`;
  if (cache.has(id)) return cache.get(id);
  const p = zipfProbabilities(n, s);
  const P = [];
  const M = [];
  let i = 0;
  for (; i < Math.min(1000, n); i++) {
    P.push(p[i]);
    M.push(1);
  }
  while (i < n) {
    let j = i;
    let sum = 0;
    while (j < n && p[j] > p[i] * 0.999) sum += p[j++];
    P.push(sum / (j - i));
    M.push(j - i);
    i = j;
  }
  const out = { P: Float64Array.from(P), M: Float64Array.from(M) };
  cache.set(id, out);
  return out;
}

/** Expected number of keys in one instance's L1 with a window of `t` own requests. */
function occupancy(p, w, N, t) {
  const keep = 1 - w / 2;
  const { P, M } = p;
  let sum = 0;
  for (let i = 0; i < P.length; i++) {
    const pi = P[i];
    const q = Math.pow(1 - w * pi, N - 1);
    const a = (1 - pi) * q;
    sum += (M[i] * keep * pi * q * (1 - Math.pow(a, t))) / (1 - a);
  }
  return sum;
}

/** The LRU's characteristic time in own requests (Infinity when all that could be resident fits). */
const tcCache = new Map();
export function characteristicTime(p, w, N, l1Max) {
  const id = `${p.P.length}:${p.P[0]}:${w}:${N}:${l1Max}`;
  if (!tcCache.has(id)) tcCache.set(id, solveCharacteristicTime(p, w, N, l1Max));
  return tcCache.get(id);
}
function solveCharacteristicTime(p, w, N, l1Max) {
  if (occupancy(p, w, N, 1e12) <= l1Max) return Infinity;
  let lo = 1;
  let hi = 1e12;
  for (let it = 0; it < 80 && hi / lo > 1.0005; it++) {
    const mid = Math.sqrt(lo * hi);
    if (occupancy(p, w, N, mid) > l1Max) hi = mid;
    else lo = mid;
  }
  return Math.sqrt(lo * hi);
}

/**
 * Shares of reads served by L1, by L2 and by a load, given the L1 window `t` (own requests) and a
 * function giving L2 presence for a key of share p.
 */
function tierShares(p, w, N, t, l2Has) {
  const keep = 1 - w / 2;
  const { P, M } = p;
  let l1 = 0;
  let l2 = 0;
  for (let i = 0; i < P.length; i++) {
    const pi = P[i];
    const q = Math.pow(1 - w * pi, N - 1);
    const a = (1 - pi) * q;
    const h = t === 0 ? 0 : (keep * pi * q * (1 - Math.pow(a, t))) / (1 - a);
    const g = Math.max(h, l2Has(pi));
    l1 += M[i] * pi * h;
    l2 += M[i] * pi * (g - h);
  }
  return { l1, l2, miss: Math.max(0, 1 - l1 - l2) };
}

/**
 * Tier shares of a bounded run from a cold start (empty L1s, flushed Redis): each instance makes
 * `warm` requests, then `measured` ones (the counted window); `points` samples across the window.
 */
export function predictRun({ n, s, w, N, l1Max, warm, measured, points = 6 }) {
  const p = probabilities(n, s);
  const keep = 1 - w / 2;
  const tc = characteristicTime(p, w, N, l1Max);
  const acc = { l1: 0, l2: 0, miss: 0 };
  for (let j = 0; j < points; j++) {
    const i = warm + ((j + 0.5) / points) * measured; // own requests so far
    const I = N * i; // fleet requests so far
    const sh = tierShares(p, w, N, Math.min(i, tc), (pi) => keep * (1 - Math.pow(1 - pi, I)));
    acc.l1 += sh.l1 / points;
    acc.l2 += sh.l2 / points;
    acc.miss += sh.miss / points;
  }
  return { ...acc, characteristicTime: tc };
}

/**
 * Tier shares in steady state: a fleet of N instances serving `rate` requests/s in total, L1
 * entries living at most `l1TtlMs`, L2 entries `ttlMs` from their fill.
 */
export function predictSteady({ n, s, w, N, l1Max, rate, l1TtlMs, ttlMs }) {
  const p = probabilities(n, s);
  const keep = 1 - w / 2;
  const tc = l1Max === 0 ? 0 : characteristicTime(p, w, N, l1Max);
  const ttlWindow = (rate / N) * (l1TtlMs / 1000);
  const T = ttlMs / 1000;
  const sh = tierShares(p, w, N, Math.min(tc, ttlWindow), (pi) => {
    const x = rate * pi * T;
    return (keep * x) / (1 + x);
  });
  return { ...sh, characteristicTime: tc };
}

/**
 * Per-request Redis quantities from tier shares and the calibrated class costs:
 * cal = { hit, miss, set, del: { commands, inBytes, outBytes, cpuUs }, delivery: { outBytes, cpuUs },
 *         forward?: { cpuUs } (Cluster: relaying one PUBLISH to one other node) }
 * Returns quantities per request (reads and writes together).
 */
export function perRequest(shares, { w, N, nodes = 1 }, cal) {
  const r = 1 - w;
  const messages = w + r * shares.miss;
  const out = { messagesPublished: messages, deliveries: messages * N };
  for (const f of ['commands', 'inBytes', 'outBytes', 'cpuUs']) {
    out[f] =
      r * (shares.l2 * cal.hit[f] + shares.miss * cal.miss[f]) +
      (w / 2) * (cal.set[f] + cal.del[f]) +
      (f === 'outBytes' || f === 'cpuUs' ? messages * (N - 1) * cal.delivery[f] : 0) +
      (f === 'cpuUs' && nodes > 1 && cal.forward ? messages * (nodes - 1) * cal.forward.cpuUs : 0);
  }
  // Round trips a client makes (scripts count once): a hit 1 GET; a miss GET, lease, fill;
  // a set or delete one script and one PUBLISH.
  out.roundTrips = r * (shares.l2 * 1 + shares.miss * 3) + w * 2;
  return out;
}

/**
 * Requests/s at which one core of Redis is busy, in steady state: solves
 * rate × cpuUs(rate) × share = 1e6 µs/s, where the CPU per request falls as the rate warms L2.
 * `share`: the busiest server's part of the work (1 for one Redis; on a Cluster, measured).
 */
export function saturationRate(params, cal, share = 1) {
  const cpuAt = (rate) => perRequest(predictSteady({ ...params, rate }), params, cal).cpuUs * share;
  let lo = 1;
  let hi = 1e9;
  for (let it = 0; it < 60; it++) {
    const mid = Math.sqrt(lo * hi);
    if (mid * cpuAt(mid) > 1e6) hi = mid;
    else lo = mid;
  }
  return { rate: lo, cpuUsPerRequest: cpuAt(lo) };
}
