// Runs scenario 8 (bench/scenarios/s8-tracking.mjs: issue 14, server-assisted invalidation) against the
// run's Redis (BENCH_REDIS_URL) and puts its figures in bench/results.json and bench/RESULTS.md (section 9,
// replaced if present, before the hand-written analysis if that is already there).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const url = process.env.BENCH_REDIS_URL;
const run = spawnSync(process.execPath, [`${here}scenarios/s8-tracking.mjs`, url], { encoding: 'utf8', timeout: 300_000 });
const records = run.stdout.split('\n').filter((l) => l.startsWith('@@R ')).map((l) => JSON.parse(l.slice(4)));
if (run.status !== 0 || records.length === 0) {
  process.stderr.write(`[bench] scenario 8 failed (${run.status}): ${run.stderr.slice(-2000)}\n`);
  process.exit(1);
}

const external = records.find((r) => r.scenario === 'tracking-external');
const library = records.filter((r) => r.scenario === 'tracking-library');
const cost = records.filter((r) => r.scenario === 'tracking-cost');
const fmt = (n, d = 2) => (n === null || n === undefined ? '–' : Number(n).toFixed(d));
const verdict = (ok) => (ok ? '**met**' : '**missed**');
const goals = [
  { goal: 'external write → L1 copy dropped on every instance, p99', measured: external?.p99Ms, target: '<= 5 ms', met: external !== undefined && external.p99Ms <= 5 },
];

const SECTION = '## 9. Server-assisted invalidation: CLIENT TRACKING (issue 14)';
const lines = [
  SECTION,
  '',
  `<sub>Command: \`npm run bench\` (bench/scenarios/s8-tracking.mjs, run by bench/tracking-report.mjs; alone: \`BENCH_REDIS_URL=redis://127.0.0.1:PORT node bench/tracking-report.mjs\`) · ${new Date().toISOString()} · Node ${process.version} · load average at the end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}</sub>`,
  '',
  `External write (a plain ioredis client DELs a key that ${external?.instances} instances, each its own process, hold in L1; each notes when its L1 copy is deleted; ${external?.samples} writes): dropped on **every** instance after **p50 ${fmt(external?.p50Ms)} ms, p99 ${fmt(external?.p99Ms)} ms** (per instance: p50 ${fmt(external?.perInstanceP50Ms)} ms, p99 ${fmt(external?.perInstanceP99Ms)} ms). Without tracking such a copy lives until \`l1.ttl\`.`,
  '',
  `Library delete (instance A \`del()\`s a key; B, another process, notes when its L1 copy is deleted; ${library[0]?.samples} deletes):`,
  '',
  '| configuration | p50 ms | p99 ms |',
  '|---|---:|---:|',
  ...library.map((r) => `| ${r.config} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} |`),
  '',
  `Cost of a write (a writer process \`set()\`s ${cost[0]?.writes} distinct keys, 100 in flight, while two receiver processes listen; CPU from \`process.cpuUsage()\` and Redis \`INFO cpu\`; messages as counted by a receiver's \`stats()\`; median of ${cost[0]?.rounds} alternating rounds per configuration — on this shared 2-core machine single rounds vary by up to 2x):`,
  '',
  '| configuration | writer CPU µs/write | receiver CPU µs/write (each) | redis-server CPU µs/write | bus messages/write (each receiver) | tracking messages/write (each receiver) | keys named by tracking/write | PUBLISH/write |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...cost.map(
    (r) =>
      `| ${r.config} | ${fmt(r.writerCpuUsPerWrite, 1)} | ${fmt(r.receiverCpuUsPerWrite, 1)} | ${fmt(r.redisCpuUsPerWrite, 1)} | ${fmt(r.busMessagesPerWrite, 3)} | ${fmt(r.trackingMessagesPerWrite, 3)} | ${fmt(r.trackedKeysPerWrite, 2)} | ${fmt(r.publishesPerWrite, 2)} |`,
  ),
  '',
  'Redis sends the invalidations of one event-loop turn as one message naming many keys, so under load tracking costs far fewer messages than writes; a lone write costs one message per instance, as a bus message does. The bus stays on by default (see the README\'s consistency model): an instance without tracking (`tracking: false`, a server that refuses it, an older version of this library during a rolling deploy) still needs per-key bus messages, and while a tracking connection is being re-established the bus still carries the library\'s own writes. A fleet in which every instance runs tracking may set `bus: false`: the writer stops publishing, receivers get only the tracking messages, and lease wake-ups (`fill`, `release`) still go out.',
  '',
  'On Redis 7.0 a write made inside a Lua script (every value write of the library: fill, put) is reported to the writing connection too, `NOLOOP` notwithstanding; the writer checks each such report with one GET (it keeps its copy when Redis holds exactly the bytes it wrote), which is part of the writer\'s CPU above in the tracking configurations. Writes made by plain commands (tag markers, `clear()`) are not echoed.',
  '',
  '| goal | measured | target | result |',
  '|---|---:|---:|---|',
  ...goals.map((g) => `| ${g.goal} | ${fmt(g.measured)} | ${g.target} | ${verdict(g.met)} |`),
  '',
];

const resultsPath = `${here}results.json`;
const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
results.tracking = { records, goals };
writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');

let md = readFileSync(`${here}RESULTS.md`, 'utf8');
const start = md.indexOf(SECTION);
if (start !== -1) {
  const next = md.indexOf('\n## ', start + SECTION.length);
  md = md.slice(0, start) + (next === -1 ? '' : md.slice(next + 1));
}
const analysis = md.indexOf('\n## Goals missed');
md = analysis === -1 ? `${md.trimEnd()}\n\n${lines.join('\n')}` : `${md.slice(0, analysis).trimEnd()}\n\n${lines.join('\n')}${md.slice(analysis)}`;
writeFileSync(`${here}RESULTS.md`, md);
process.stderr.write(`[bench] scenario 8: ${goals.filter((g) => g.met).length}/${goals.length} goals met\n`);
