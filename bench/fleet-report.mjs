// Runs scenario 7 (bench/scenarios/s7-fleet.mjs: issues 3 and 4) against the run's Redis and adds
// its figures to bench/results.json and bench/RESULTS.md, after run-all.mjs wrote them.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const url = process.env.BENCH_REDIS_URL;
const run = spawnSync(process.execPath, [`${here}scenarios/s7-fleet.mjs`, url], { encoding: 'utf8', timeout: 240_000 });
const records = run.stdout.split('\n').filter((l) => l.startsWith('@@R ')).map((l) => JSON.parse(l.slice(4)));
if (run.status !== 0 || records.length === 0) {
  process.stderr.write(`[bench] scenario 7 failed (${run.status}): ${run.stderr.slice(-2000)}\n`);
  process.exit(1);
}

const stampede = records.filter((r) => r.scenario === 'fleet-stampede');
const delivery = records.find((r) => r.scenario === 'invalidation-delivery');
const tags = records.filter((r) => r.scenario === 'tag-check');
const bulk = records.find((r) => r.scenario === 'bulk');
const fmt = (n, d = 2) => (n === null || n === undefined ? '–' : Number(n).toFixed(d));
const verdict = (ok) => (ok ? '**met**' : '**missed**');

const goals = [
  ...stampede.map((r) => ({ scenario: 'fleet-stampede', goal: `${r.library}: exactly 1 loader call (4 processes x 250)`, measured: r.loaderCalls, target: 1, met: r.loaderCalls === 1 })),
  ...stampede.map((r) => ({ scenario: 'fleet-stampede', goal: `${r.library}: waiters' p99 added latency < 10 ms`, measured: r.p99AddedMs, target: 10, met: r.p99AddedMs < 10 })),
  {
    scenario: 'fleet-stampede',
    goal: 'Redis commands per stampede do not grow with the wait (500 ms loader vs 50 ms: within 25%)',
    measured: `${stampede.map((r) => r.redisCommands).join(' vs ')}`,
    target: '<= 1.25x',
    met: stampede.length === 2 && stampede[1].redisCommands <= 1.25 * stampede[0].redisCommands,
  },
  ...tags.map((r) => ({ scenario: 'tag-check', goal: `${r.library}: L1 hit under 10% slower than untagged`, measured: r.ratioToUntagged, target: 0.9, met: r.ratioToUntagged >= 0.9 })),
];

const lines = [
  '',
  '## 7. Fleet: stampede waiters, invalidation delivery, tag checks, bulk reads (issues 3, 4, 8)',
  '',
  `<sub>Command: \`npm run bench\` (bench/scenarios/s7-fleet.mjs, run by bench/fleet-report.mjs) · ${new Date().toISOString()} · Node ${process.version}</sub>`,
  '',
  'Stampede: 4 processes x 250 concurrent `getOrSet` on one cold key; the loader counts itself with INCR. Added latency = a caller\'s latency minus the loader\'s own duration. Redis commands = every command Redis ran during the stampede (INFO commandstats, including the commands inside Lua scripts, minus the loader\'s INCR).',
  '',
  '| variant | loader calls | callers | loader ms | p50 added ms | p99 added ms | Redis commands |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...stampede.map((r) => `| ${r.library} | ${r.loaderCalls} | ${r.callers} | ${fmt(r.loaderMs, 1)} | ${fmt(r.p50AddedMs)} | ${fmt(r.p99AddedMs)} | ${r.redisCommands} |`),
  '',
  `Invalidation delivery (two processes; A evicts, B polls its L1 until the old value is gone; ${delivery?.samples} evictions): **p50 ${fmt(delivery?.p50Ms)} ms, p99 ${fmt(delivery?.p99Ms)} ms**.`,
  '',
  'Tag check cost on an L1 hit (10 000 warm keys, random order, alternating 100 ms windows; ratio = tagged / untagged ops/s):',
  '',
  '| variant | ratio to untagged |',
  '|---|---:|',
  ...tags.map((r) => `| ${r.library} | ${fmt(r.ratioToUntagged, 3)} |`),
  '',
  bulk
    ? `Bulk read (issue 8; L1 off, 100 keys of 1 KB): \`getMany\` ${fmt(bulk.getManyMs)} ms against ${fmt(bulk.singlesMs)} ms for 100 awaited \`get()\`s: **${fmt(bulk.speedup, 1)}x faster** (median of 10 alternating windows).`
    : '',
  '',
  '| goal | measured | target | result |',
  '|---|---:|---:|---|',
  ...goals.map((g) => `| ${g.goal} | ${typeof g.measured === 'number' ? fmt(g.measured, 3) : g.measured} | ${g.target} | ${verdict(g.met)} |`),
  '',
];

const resultsPath = `${here}results.json`;
const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
results.fleet = { records, goals };
writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
writeFileSync(`${here}RESULTS.md`, readFileSync(`${here}RESULTS.md`, 'utf8').trimEnd() + '\n' + lines.join('\n'));
process.stderr.write(`[bench] scenario 7: ${goals.filter((g) => g.met).length}/${goals.length} goals met\n`);
