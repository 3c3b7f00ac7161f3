// Aggregates the raw records of one run into bench/results.json and bench/RESULTS.md.
// Standalone: node bench/report.mjs bench/.runs/<stamp>.jsonl
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const median = (xs) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!a.length) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const r3 = (x, d = 3) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const fmtInt = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'));
const fmtR = (x, d = 3) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(d));
const fmtMs = (x) => (x == null ? '—' : x.toFixed(1));
const isOurs = (lib) => lib.startsWith('nestjs-tiered-cache');

const SCENARIO_TITLES = {
  'l1-hit': '1. L1 hit: 10 000 warm keys, random order, one awaited call at a time',
  'l2-hit': '2. L2 hit: L1 off (or 1 entry), 100 in flight, 1 KB JSON, 10 000 keys',
  miss: '3. Miss then set: 1 ms loader; throughput at 100 in flight, Redis commands per miss (sequential)',
  'stampede-1proc': '4a. Cold-key stampede: 1 000 concurrent callers in one process, 50 ms loader',
  'stampede-4proc': '4b. Cold-key stampede: 4 processes x 250 callers, one Redis, 50 ms loader',
  http: '5. HTTP: Nest 12 + Fastify, wrk -t1 -c50, one route each',
  memory: '6. Memory: 100 000 cached ~1 KB entries, fresh process, --expose-gc',
};

const READ_CMDS = new Set(['get', 'mget', 'getex', 'getbuffer', 'hget', 'hgetall', 'hmget']);

// On the caller's path: reads (GET family) and everything else (writes, lease scripts, publishes).
function classify(perMiss) {
  if (!perMiss) return null;
  let reads = 0;
  let others = 0;
  for (const [k, n] of Object.entries(perMiss)) {
    if (READ_CMDS.has(k)) reads += n;
    else others += n;
  }
  return { reads, others, total: reads + others };
}

// ------------------------------------------------------------------------------------------------ aggregation
function aggregateWindows(recs) {
  const byLib = new Map();
  for (const r of recs) {
    if (!byLib.has(r.library)) byLib.set(r.library, []);
    byLib.get(r.library).push(r);
  }
  const out = [];
  const allFloor = [];
  for (const [library, rs] of byLib) {
    const pairs = rs.flatMap((r) => r.windows);
    allFloor.push(...pairs.map((p) => p.floorOps));
    const ratios = pairs.map((p) => p.ratio);
    const rec = {
      scenario: rs[0].scenario,
      library,
      kind: rs[0].kind,
      opsPerSec: r3(median(pairs.map((p) => p.libOps)), 0),
      floorOpsPerSec: r3(median(pairs.map((p) => p.floorOps)), 0),
      ratioToFloor: r3(median(ratios), 4),
      ratioMin: r3(Math.min(...ratios), 4),
      ratioMax: r3(Math.max(...ratios), 4),
      windows: pairs.length,
      processes: rs.length,
    };
    if (pairs.some((p) => p.cpuRatio != null)) {
      rec.libCpuUsPerOp = r3(median(pairs.map((p) => p.libCpuUsPerOp)), 3);
      rec.floorCpuUsPerOp = r3(median(pairs.map((p) => p.floorCpuUsPerOp)), 3);
      rec.cpuRatioToFloor = r3(median(pairs.map((p) => p.cpuRatio)), 4);
    }
    const sum = (k) => rs.reduce((a, r) => a + (r[k] ?? 0), 0);
    if (rs[0].loaderCallsDuringRun !== undefined) rec.loaderCallsDuringRun = sum('loaderCallsDuringRun');
    if (rs[0].redisCommandsDuringRun !== undefined) rec.redisCommandsDuringRun = sum('redisCommandsDuringRun');
    if (rs[0].valueCheckFailures !== undefined) rec.valueCheckFailures = sum('valueCheckFailures');
    if (rs[0].warmLoaderCalls !== undefined) rec.warmLoaderCalls = rs.map((r) => r.warmLoaderCalls);
    if (rs[0].libCommandsPerOp !== undefined) rec.redisCommandsPerOp = r3(median(rs.map((r) => r.libCommandsPerOp)), 3);
    if (rs[0].scenario === 'miss') {
      const r0 = rs[0];
      rec.loaderCalls = sum('loaderCallsPhaseA');
      rec.expectedLoaderCalls = sum('expectedLoadsPhaseA');
      rec.serverCommandsPerMiss = r0.serverCommandsPerMiss;
      rec.onPathPerMiss = r0.onPathPerMiss;
      rec.backgroundPerMiss = r0.backgroundPerMiss;
      rec.onPathRoundTripsPerMiss = r0.onPathRoundTripsPerMiss ?? null;
      rec.seqLatencyP50Ms = r3(r0.seqLatencyP50Ms, 3);
      rec.seqLatencyP99Ms = r3(r0.seqLatencyP99Ms, 3);
      rec.loaderP50Ms = r3(r0.loaderP50Ms, 3);
      rec.addedLatencyP50Ms = r3(r0.seqLatencyP50Ms - r0.loaderP50Ms, 3);
    }
    out.push(rec);
  }
  if (recs.length) {
    out.unshift({
      scenario: recs[0].scenario,
      library: 'floor',
      kind: 'floor',
      opsPerSec: r3(median(allFloor), 0),
      ratioToFloor: 1,
      windows: allFloor.length,
      note: FLOOR_NOTES[recs[0].scenario],
    });
  }
  return out;
}

const FLOOR_NOTES = {
  'l1-hit': 'await (async (k) => lru.get(k))(key), new LRUCache({ max: 50_000 })',
  'l2-hit': 'ioredis (enableAutoPipelining) GET + JSON.parse, 100 in flight',
  miss: 'ioredis (enableAutoPipelining) GET -> loader -> SET PX (awaited), 100 in flight',
  http: 'GET /const/1 returning a prebuilt constant',
  memory: 'lru-cache 11 new LRUCache({ max: 100_000, ttl: 3_600_000 }) holding the same objects',
};

function aggregateStampede(recs) {
  return recs.map((r) => {
    const reps = r.reps;
    const p99 = median(reps.map((x) => x.p99Ms));
    const loaderMs = median(reps.map((x) => x.loaderMs));
    return {
      scenario: r.scenario,
      library: r.library,
      kind: r.kind,
      loaderCalls: Math.max(...reps.map((x) => x.loaderCalls)),
      loaderCallsPerRep: reps.map((x) => x.loaderCalls),
      p50Ms: r3(median(reps.map((x) => x.p50Ms)), 2),
      p99Ms: r3(p99, 2),
      maxMs: r3(Math.max(...reps.map((x) => x.maxMs)), 2),
      loaderMs: r3(loaderMs, 2),
      p99OverLoader: r3(p99 / loaderMs, 3),
      distinctValues: Math.max(...reps.map((x) => x.distinctValues)),
      errors: reps.reduce((a, x) => a + (x.errors ?? 0), 0),
      ...(r.procs ? { processes: r.procs, callersPerProcess: r.callersPerProc, maxStartSkewMs: Math.max(...reps.map((x) => x.startSkewMs)) } : { callers: r.callers }),
      reps: reps.length,
    };
  });
}

function aggregateHttp(recs) {
  return recs.map((r) => {
    const ratios = r.runs.map((x, i) => x.rps / r.floorRuns[i]);
    return {
      scenario: 'http',
      library: r.library,
      kind: r.kind,
      requestsPerSec: r3(median(r.runs.map((x) => x.rps)), 0),
      opsPerSec: r3(median(r.runs.map((x) => x.rps)), 0),
      ratioToFloor: r.library === 'floor' ? 1 : r3(median(ratios), 4),
      ratioMin: r3(Math.min(...ratios), 4),
      ratioMax: r3(Math.max(...ratios), 4),
      p50Ms: r3(median(r.runs.map((x) => x.p50Ms)), 2),
      p99Ms: r3(median(r.runs.map((x) => x.p99Ms)), 2),
      runs: r.runs.length,
      loaderCalls: r.loaderCalls,
      bodyMatchesFloor: r.bodyMatchesFloor,
      non2xx: r.runs.reduce((a, x) => a + (x.non2xx ?? 0), 0),
      tool: r.tool,
      ...(r.library === 'floor' ? { note: FLOOR_NOTES.http } : {}),
    };
  });
}

function aggregateMemory(recs) {
  const byLib = new Map();
  for (const r of recs) {
    if (!byLib.has(r.library)) byLib.set(r.library, []);
    byLib.get(r.library).push(r);
  }
  const out = [];
  for (const [library, rs] of byLib) {
    out.push({
      scenario: 'memory',
      library: library === 'lru-cache (raw)' ? 'floor' : library,
      kind: rs[0].kind,
      entries: rs[0].entries,
      heapUsedBytes: r3(median(rs.map((r) => r.heapUsedBytes)), 0),
      rssBytes: r3(median(rs.map((r) => r.rssBytes)), 0),
      heapTotalBytes: r3(median(rs.map((r) => r.heapTotalBytes ?? Number.NaN)), 0),
      heapPerEntryBytes: r3(median(rs.map((r) => r.heapPerEntryBytes)), 1),
      runs: rs.length,
      ...(library === 'lru-cache (raw)' ? { note: FLOOR_NOTES.memory } : {}),
    });
  }
  const floor = out.find((x) => x.library === 'floor');
  for (const o of out) {
    if (!floor) break;
    o.ratioToFloor = r3(o.heapUsedBytes / floor.heapUsedBytes, 3);
    o.rssRatioToFloor = r3(o.rssBytes / floor.rssBytes, 3);
  }
  return out;
}

// Ours vs each peer, floor-normalized within the scenario (each library's ratio came from its own
// alternating windows against the same floor, so the quotient cancels most of the machine's drift).
function addPeerRatios(rows) {
  const peers = rows.filter((r) => r.kind === 'peer' || r.kind === 'reference');
  for (const r of rows) {
    if (r.kind !== 'ours' || r.ratioToFloor == null) continue;
    r.ratioToPeers = {};
    for (const p of peers) if (p.ratioToFloor) r.ratioToPeers[p.library] = r3(r.ratioToFloor / p.ratioToFloor, 3);
    if (r.cpuRatioToFloor != null) {
      r.cpuRatioToPeers = {};
      for (const p of peers) if (p.cpuRatioToFloor) r.cpuRatioToPeers[p.library] = r3(r.cpuRatioToFloor / p.cpuRatioToFloor, 3);
    }
  }
}

// ------------------------------------------------------------------------------------------------ goals
function goals(results, withOurs) {
  const g = [];
  const find = (scenario, lib) => results.find((r) => r.scenario === scenario && r.library === lib);
  const T = 'nestjs-tiered-cache';
  const line = (scenario, text, value, target, cmp, detail) => {
    let met = null;
    let by = null;
    if (value != null && Number.isFinite(value)) {
      met = cmp === '>=' ? value >= target : value <= target;
      by = cmp === '>=' ? value / target : target / value;
    }
    g.push({ scenario, goal: text, value: value == null ? null : r3(value, 4), target, met, factor: r3(by, 3), detail });
  };
  if (!withOurs) return [{ goal: 'our library was not built (dist/index.js missing): no goal could be evaluated', met: null }];

  const dec = find('l1-hit', `${T}:decorator`);
  line('l1-hit', 'decorated L1 hit >= 50% of the floor ops/s', dec?.ratioToFloor, 0.5, '>=', dec ? `CPU ratio ${dec.cpuRatioToFloor}` : undefined);
  line('l1-hit', "decorated L1 hit >= 10x bentocache's getOrSet", dec?.ratioToPeers?.['bentocache:getOrSet'], 10, '>=', dec?.cpuRatioToPeers ? `from CPU per call: ${dec.cpuRatioToPeers['bentocache:getOrSet']}x` : undefined);
  const gos = find('l1-hit', `${T}:getOrSet`);
  line('l1-hit', 'getOrSet L1 hit >= 50% of the floor ops/s (not a stated goal; for reference)', gos?.ratioToFloor, 0.5, '>=');

  for (const lib of [`${T}:decorator [L1 off]`, `${T}:getOrSet [L1 off]`, `${T}:getOrSet [L1 max 1]`, `${T}:getOrSet [L1 off, user client with autopipelining]`]) {
    const r = find('l2-hit', lib);
    if (r) line('l2-hit', `${lib.slice(T.length + 1)} L2 hit >= 90% of the floor throughput`, r.ratioToFloor, 0.9, '>=', `CPU per call ${r.libCpuUsPerOp} µs vs floor ${r.floorCpuUsPerOp} µs (CPU ratio ${r.cpuRatioToFloor})`);
  }

  for (const lib of [`${T}:decorator`, `${T}:getOrSet`, `${T}:getOrSet [lock:false]`]) {
    const r = find('miss', lib);
    if (!r) continue;
    const c = classify(r.onPathPerMiss) ?? classify(r.serverCommandsPerMiss);
    const src = r.onPathPerMiss ? "on the caller's path" : 'server totals (no client-side split)';
    // The fleet lease is on by default (module option `lock`, default true); `[lock:false]` turns it off.
    const lock = !lib.includes('[lock:false]');
    const name = lib.slice(T.length + 1);
    if (!c) {
      g.push({ scenario: 'miss', goal: `${name}: Redis round trips per miss`, value: null, target: null, met: null });
      continue;
    }
    // without the lease: 1 read + at most 1 write; with it: + the lease command
    const allowedOthers = lock ? 2 : 1;
    g.push({
      scenario: 'miss',
      goal: lock
        ? `${name} (lease on, the default): commands per miss ${src}: 1 read, <= 1 write, + the lease round trip`
        : `${name} (lease off): commands per miss ${src}: 1 read, <= 1 write, no lease`,
      value: `${r3(c.reads, 2)} read + ${r3(c.others, 2)} other`,
      target: lock ? '1 read + <= 2 other' : '1 read + <= 1 other',
      met: Math.abs(c.reads - 1) < 0.01 && c.others <= allowedOthers + 0.001,
      detail: `on path ${JSON.stringify(r.onPathPerMiss)} (round trips on path: ${r.onPathRoundTripsPerMiss ?? '—'}); background ${JSON.stringify(r.backgroundPerMiss)}; server (incl. commands inside Lua scripts) ${JSON.stringify(r.serverCommandsPerMiss)}`,
    });
  }

  for (const sc of ['stampede-1proc', 'stampede-4proc']) {
    // Across processes only the fleet lease can give 1; with `lock: false` 1 per process is the design.
    for (const r of results.filter((x) => x.scenario === sc && x.kind === 'ours' && !(sc === 'stampede-4proc' && x.library.includes('[lock:false]')))) {
      g.push({
        scenario: sc,
        goal: `${r.library.slice(T.length + 1)}: exactly 1 loader call per cold key (${sc === 'stampede-1proc' ? '1 process x 1 000' : '4 processes x 250'})`,
        value: r.loaderCalls,
        target: 1,
        met: r.loaderCallsPerRep.every((n) => n === 1),
        factor: null,
        detail: `per rep ${r.loaderCallsPerRep.join(', ')}; p99 ${r.p99Ms} ms = ${r.p99OverLoader}x the loader's ${r.loaderMs} ms`,
      });
    }
  }

  const h = find('http', `${T}:decorator`);
  line('http', 'cached endpoint >= 90% of the constant endpoint req/s', h?.ratioToFloor, 0.9, '>=');

  for (const lib of [`${T}:set [L1 only]`, `${T}:getOrSet [L1+L2]`]) {
    const m = find('memory', lib);
    if (!m) continue;
    line('memory', `${lib.slice(T.length + 1)}: heap within 1.5x raw lru-cache`, m.ratioToFloor, 1.5, '<=', `${fmtR(m.heapPerEntryBytes / 1, 0)} B/entry`);
    line('memory', `${lib.slice(T.length + 1)}: RSS within 1.5x raw lru-cache`, m.rssRatioToFloor, 1.5, '<=', `RSS also holds free space inside V8's heap pages (committed ${m.heapTotalBytes ? ((m.heapTotalBytes - m.heapUsedBytes) / 2 ** 20).toFixed(0) : '?'} MiB beyond the heap used), left by the short-lived buffers of the Redis writes and kept until V8 compacts; bounded (bench/scenarios/s6-growth.mjs)`);
  }
  return g;
}

// ------------------------------------------------------------------------------------------------ markdown
function md({ meta, results, failures, goalLines }) {
  const L = [];
  const runLine = () => `<sub>Run ${meta.date} · Node ${meta.node} · ${meta.cpus} cores · Redis ${meta.redis} · \`${meta.command}\`</sub>`;
  const totalS = meta.totalSeconds;
  L.push('# Benchmark results');
  L.push('');
  L.push('Generated by `bench/run.sh` (`npm run bench`). Do not edit by hand: the next run overwrites this file.');
  L.push('');
  L.push(`- Date: ${meta.date}`);
  L.push(`- Command: \`${meta.command}\` (from the repository root)`);
  L.push(`- Node ${meta.node}; ${meta.cpus} cores (${meta.cpuModel}); ${meta.totalMemGiB} GiB; ${meta.platform}`);
  L.push(`- Redis ${meta.redis}, own server on loopback started by run.sh (\`--save '' --appendonly no\`), sharing the cores with the benchmark`);
  L.push(`- Total run time: ${totalS != null ? totalS.toFixed(0) + ' s' : '—'} (scenarios ${meta.scenariosSeconds?.toFixed(0)} s)${meta.quick ? '; **BENCH_QUICK=1 smoke run: few, short windows, not for decisions**' : ''}`);
  L.push(`- Raw records: \`${meta.rawFile}\` (git-ignored). Machine-readable summary: \`bench/results.json\`.`);
  if (meta.trimmed?.length) L.push(`- **Trimmed to stay within the 10-minute budget (the machine was slow):** ${meta.trimmed.join('; ')}.`);
  if (meta.buildFailed) L.push('- **`npm run build` failed in this run: the library variants ran on whatever `dist/` held.**');
  if (!meta.oursAvailable) L.push('- **nestjs-tiered-cache was not measured: `dist/index.js` was missing (the build failed or was skipped).**');
  L.push('');
  L.push('How to read: the machine is shared and noisy, so absolute ops/s move by ±10–15 % between runs. Each throughput ratio is');
  L.push('taken inside one process by alternating windows (mitata `measure`) of the floor and the library; the table shows the');
  L.push('median ratio over all windows. "vs peer" columns divide two such ratios (each against the same floor). Compare ratios,');
  L.push('and only ratios from one run. "CPU µs/op" is this process\'s CPU time (user + system, GC threads included) per call in');
  L.push('the same windows, library (floor); "CPU ratio" = floor CPU / library CPU per call, a cross-check that other processes on the');
  L.push('machine disturb less than throughput (it leaves out the Redis server\'s CPU).');
  L.push('');

  L.push('## Goals');
  L.push('');
  L.push('| scenario | goal | measured | target | result |');
  L.push('|---|---|---:|---:|---|');
  for (const g of goalLines) {
    const res = g.met == null ? 'not measured' : g.met ? `**met**${g.factor ? ` (${fmtR(g.factor, 2)}x the target)` : ''}` : `**missed**${g.factor ? ` (at ${fmtR(g.factor, 2)}x the target)` : ''}`;
    L.push(`| ${g.scenario ?? ''} | ${g.goal}${g.detail ? `<br><sub>${g.detail}</sub>` : ''} | ${g.value ?? '—'} | ${g.target ?? '—'} | ${res} |`);
  }
  L.push('');

  const by = (s) => results.filter((r) => r.scenario === s);
  const oursFirst = (rows) => [...rows.filter((r) => r.library === 'floor'), ...rows.filter((r) => r.kind === 'ours'), ...rows.filter((r) => r.kind === 'peer'), ...rows.filter((r) => r.kind === 'reference')];

  for (const s of ['l1-hit', 'l2-hit', 'miss']) {
    const rows = oursFirst(by(s));
    if (!rows.length) continue;
    L.push(`## ${SCENARIO_TITLES[s]}`);
    L.push('');
    L.push(runLine());
    L.push('');
    L.push(`Floor: ${FLOOR_NOTES[s]}.`);
    if (s === 'miss') L.push('', 'Per-miss commands come from 500 sequential misses by the library alone. "Server" counts are INFO commandstats deltas and include the commands a Lua script runs inside its EVALSHA. "On caller path" (ioredis-based libraries, given an instrumented client) counts commands sent after the call started and answered before it resolved; the rest are background. "Added latency" = p50 sequential call time - p50 loader time.');
    L.push('');
    const extraHead = s === 'miss' ? ' Redis cmds per miss (server) | on caller path | added latency p50 ms (seq.) |' : s === 'l2-hit' ? ' Redis cmds/op |' : '';
    const extraSep = s === 'miss' ? '---|---|---:|' : s === 'l2-hit' ? '---:|' : '';
    L.push(`| library | kind | ops/s (median) | floor ops/s (same windows) | ratio to floor | range | windows | CPU µs/op (floor) | CPU ratio |${extraHead} checks |`);
    L.push(`|---|---|---:|---:|---:|---|---:|---:|---:|${extraSep}---|`);
    for (const r of rows) {
      const checks = [];
      if (r.loaderCallsDuringRun) checks.push(`${r.loaderCallsDuringRun} loader calls during windows`);
      if (r.redisCommandsDuringRun) checks.push(`${r.redisCommandsDuringRun} Redis cmds during windows`);
      if (r.valueCheckFailures) checks.push(`${r.valueCheckFailures} wrong values`);
      if (s === 'miss' && r.loaderCalls !== r.expectedLoaderCalls) checks.push(`loader calls ${r.loaderCalls} != misses ${r.expectedLoaderCalls}`);
      const fmtCmds = (o) => (o ? Object.entries(o).map(([k, v]) => `${k} ${r3(v, 2)}`).join(', ') || '0' : '— (not ioredis)');
      const extra =
        s === 'miss' ? ` ${fmtCmds(r.serverCommandsPerMiss)} | ${fmtCmds(r.onPathPerMiss)}${r.onPathRoundTripsPerMiss != null ? ` (${r3(r.onPathRoundTripsPerMiss, 2)} round trip${r.onPathRoundTripsPerMiss === 1 ? '' : 's'})` : ''} | ${r.addedLatencyP50Ms ?? '—'} |` : s === 'l2-hit' ? ` ${r.redisCommandsPerOp ?? '—'} |` : '';
      if (r.library === 'floor') {
        L.push(`| **floor** | floor | ${fmtInt(r.opsPerSec)} | | 1 | | ${r.windows} | | |${s === 'miss' ? ' get 1, set 1 | get 1, set 1 | |' : s === 'l2-hit' ? ' 1 |' : ''} |`);
        continue;
      }
      const name = r.kind === 'ours' ? `**${r.library}**` : r.library;
      L.push(`| ${name} | ${r.kind} | ${fmtInt(r.opsPerSec)} | ${fmtInt(r.floorOpsPerSec)} | ${fmtR(r.ratioToFloor, 4)} | ${fmtR(r.ratioMin, 4)}–${fmtR(r.ratioMax, 4)} | ${r.windows} | ${r.libCpuUsPerOp != null ? `${fmtR(r.libCpuUsPerOp, 3)} (${fmtR(r.floorCpuUsPerOp, 3)})` : '—'} | ${fmtR(r.cpuRatioToFloor, 4)} |${extra} ${checks.join('; ') || 'ok'} |`);
    }
    L.push('');
    peerTable(L, rows);
  }

  for (const s of ['stampede-1proc', 'stampede-4proc']) {
    const rows = oursFirst(by(s));
    if (!rows.length) continue;
    L.push(`## ${SCENARIO_TITLES[s]}`);
    L.push('');
    L.push(runLine());
    L.push('');
    L.push('Loader calls are counted in Redis (INCR in the loader), per repetition, on a fresh key each time; an unrecorded cold-JIT repetition ran first. Latency is per call, from issue to resolution.');
    L.push('');
    L.push('| library | kind | loader calls per rep | p50 ms | p99 ms | p99 / loader | loader ms | distinct values returned | errors |');
    L.push('|---|---|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const name = r.kind === 'ours' ? `**${r.library}**` : r.library;
      L.push(`| ${name} | ${r.kind} | ${r.loaderCallsPerRep.join(', ')} | ${fmtMs(r.p50Ms)} | ${fmtMs(r.p99Ms)} | ${fmtR(r.p99OverLoader, 2)} | ${fmtMs(r.loaderMs)} | ${r.distinctValues} | ${r.errors} |`);
    }
    L.push('');
  }

  {
    const rows = oursFirst(by('http'));
    if (rows.length) {
      L.push(`## ${SCENARIO_TITLES.http}`);
      L.push('');
      L.push(runLine());
      L.push('');
      L.push(`Server: bench/scenarios/http-app.mjs in its own process; load: ${rows[0].tool} in another; ${rows[0].runs} round(s) per route, order rotated; every route returns the same ~1 KB body. Ratio = median of per-round ratios to the constant route.`);
      L.push('');
      L.push('| route | kind | req/s (median) | ratio to floor | range | p50 ms | p99 ms | handler/loader runs | body = floor |');
      L.push('|---|---|---:|---:|---|---:|---:|---:|---|');
      for (const r of rows) {
        const name = r.library === 'floor' ? '**floor** (GET /const/1)' : r.kind === 'ours' ? `**${r.library}** (GET /tiered/1)` : `${r.library} (GET /interceptor/1)`;
        L.push(`| ${name} | ${r.kind} | ${fmtInt(r.requestsPerSec)} | ${fmtR(r.ratioToFloor, 3)} | ${r.library === 'floor' ? '' : `${fmtR(r.ratioMin, 3)}–${fmtR(r.ratioMax, 3)}`} | ${fmtMs(r.p50Ms)} | ${r.p99Ms ?? '—'} | ${r.loaderCalls ?? '—'} | ${r.bodyMatchesFloor ? 'yes' : 'NO'} |`);
      }
      const o = rows.find((r) => r.kind === 'ours');
      const p = rows.find((r) => r.kind === 'peer');
      if (o && p) L.push('', `Ours vs CacheInterceptor: ${fmtR(o.ratioToFloor / p.ratioToFloor, 3)}x the requests/s.`);
      L.push('');
    }
  }

  {
    const rows = by('memory');
    if (rows.length) {
      L.push(`## ${SCENARIO_TITLES.memory}`);
      L.push('');
      L.push(runLine());
      L.push('');
      L.push(`Floor: ${FLOOR_NOTES.memory}. Deltas of process.memoryUsage() after forced GCs, before and after filling; median of ${rows[0].runs} fresh process(es).`);
      L.push('');
      L.push('| library | heap used | heap per entry | RSS | V8 heap committed (free in its pages) | heap ratio to floor | RSS ratio to floor |');
      L.push('|---|---:|---:|---:|---:|---:|---:|');
      for (const r of oursFirst(rows)) {
        L.push(`| ${r.library === 'floor' ? '**floor** (raw lru-cache)' : `**${r.library}**`} | ${(r.heapUsedBytes / 2 ** 20).toFixed(1)} MiB | ${fmtInt(r.heapPerEntryBytes)} B | ${(r.rssBytes / 2 ** 20).toFixed(1)} MiB | ${(r.heapTotalBytes / 2 ** 20).toFixed(1)} MiB (${((r.heapTotalBytes - r.heapUsedBytes) / 2 ** 20).toFixed(1)} MiB) | ${fmtR(r.ratioToFloor, 3)} | ${fmtR(r.rssRatioToFloor, 3)} |`);
      }
      L.push('');
    }
  }

  if (failures.length) {
    L.push('## Failures');
    L.push('');
    for (const f of failures) L.push(`- ${f.scenario} / ${f.library ?? '(all)'}: ${f.error}${f.stderrTail ? `\n\n  \`\`\`\n  ${f.stderrTail.trim().split('\n').slice(-6).join('\n  ')}\n  \`\`\`` : ''}`);
    L.push('');
  }

  L.push('## Configurations');
  L.push('');
  L.push('All values are the same ~1 KB object (JSON 1 013–1 022 bytes), TTL 1 h, one Redis on loopback. Peer versions and settings follow');
  L.push('shared/research/peers.md; the variants are defined in `bench/lib/variants.mjs`.');
  L.push('');
  L.push('- nestjs-tiered-cache: `TieredCacheModule.forRoot({ redis: url, keyPrefix, ttl: 3_600_000, l1: { max: 50_000, ttl: 3_600_000 }, serializer: "json" })`, other options at their defaults (so the fleet lease `lock` is on); `[L1 off]` = `l1: false`; `[L1 max 1]` = `l1: { max: 1 }`; `[user client with autopipelining]` = `redis: new Redis(url, { enableAutoPipelining: true })`; `[lock:false]` = `lock: false` on the call/decorator (no fleet lease). `[tracking:false]` = `tracking: false` (no Redis-assisted L1 invalidation, which no peer here has; the lease stays on). The decorator is applied as tsc emits it (`__decorate([Cacheable(...), __metadata("design:returntype", Promise)], ...)`).');
  L.push('- bentocache 1.6.1: `bentostore().useL1Layer(memoryDriver({ maxItems: 50_000 }))` (maxItems defaults to 1 000) `.useL2Layer(redisDriver({ connection: { host, port } }))`; `getOrSet({ key, factory, ttl })`. `[L1 serialize:false]` is correct only for values produced in the same process (bentocache#111).');
  L.push('- cache-manager 7.2.9: README tiered setup, `[new Keyv({ store: new CacheableMemory({ ttl, lruSize: 50_000 }) }), new Keyv({ store: new KeyvRedis(url) })]`; `wrap(key, fn, ttl)`. `[L1 useClone:false]` = `createKeyv({ ttl, lruSize, useClone: false })`.');
  L.push('- cacheable 2.5.0: `new Cacheable({ secondary: new Keyv({ store: new KeyvRedis(url) }) })` (primary: CacheableMemory, useClone:true); `getOrSet(key, fn, { ttl })`.');
  L.push('- @type-cacheable/core 14.2.2: `@Cacheable({ client: useAdapter(new Redis({ enableAutoPipelining: true })), cacheKey, ttlSeconds })` (single tier; `[lru-cache]` uses the lru-cache adapter as an L1 stand-in).');
  L.push('- @nestjs/cache-manager 12.0.0: `CacheModule.register({ ttl: 60_000 })` (in-memory Keyv) + `@UseInterceptors(CacheInterceptor)`.');
  L.push('- lru-cache:fetch (reference, not a tiered cache): `new LRUCache({ max, ttl, fetchMethod })`.');
  L.push('');
  return L.join('\n');
}

function peerTable(L, rows) {
  const ours = rows.filter((r) => r.kind === 'ours' && r.ratioToPeers);
  if (!ours.length) return;
  const peers = Object.keys(ours[0].ratioToPeers);
  if (!peers.length) return;
  L.push('Ours vs each peer: ours / peer throughput, from each one\'s ratio to the same floor (in brackets: the same from CPU per call):');
  L.push('');
  L.push(`| ours \\ peer | ${peers.join(' | ')} |`);
  L.push(`|---|${peers.map(() => '---:').join('|')}|`);
  for (const o of ours) L.push(`| ${o.library} | ${peers.map((p) => fmtR(o.ratioToPeers[p], 2) + 'x' + (o.cpuRatioToPeers?.[p] != null ? ` (${fmtR(o.cpuRatioToPeers[p], 2)}x)` : '')).join(' | ')} |`);
  L.push('');
}

// ------------------------------------------------------------------------------------------------ entry points
export function writeReport({ meta, records, failures, outDir }) {
  meta.totalSeconds = meta.runStartedAt ? (Date.now() - meta.runStartedAt) / 1000 : null;
  const by = (s) => records.filter((r) => r.scenario === s);
  const results = [];
  for (const s of ['l1-hit', 'l2-hit', 'miss']) {
    const rows = aggregateWindows(by(s));
    addPeerRatios(rows);
    results.push(...rows);
  }
  results.push(...aggregateStampede(by('stampede-1proc')), ...aggregateStampede(by('stampede-4proc')));
  const http = aggregateHttp(by('http'));
  addPeerRatios(http);
  results.push(...http);
  const mem = aggregateMemory(by('memory'));
  results.push(...mem);
  const goalLines = goals(results, meta.oursAvailable);
  writeFileSync(`${outDir}results.json`, JSON.stringify({ meta, goals: goalLines, results, failures }, null, 2) + '\n');
  writeFileSync(`${outDir}RESULTS.md`, md({ meta, results, failures, goalLines }));
  return { results, goalLines };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node bench/report.mjs bench/.runs/<stamp>.jsonl');
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const meta = lines.find((l) => l.meta)?.meta ?? {};
  meta.runStartedAt = null;
  const failures = lines.filter((l) => l.failure).map((l) => l.failure);
  const records = lines.filter((l) => l.scenario);
  const { goalLines } = writeReport({ meta, records, failures, outDir: fileURLToPath(new URL('.', import.meta.url)) });
  for (const g of goalLines) console.log(`${g.met == null ? '?' : g.met ? 'MET   ' : 'MISSED'} ${g.goal}: ${g.value}`);
}
