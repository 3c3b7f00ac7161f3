#!/usr/bin/env node
// npm run fuzz: the property suites with a fuzzing budget. Prints runs, violations and seeds,
// and adds a section to bench/FUZZ.md (newest first; earlier sections are kept).
//   FUZZ_RUNS     runs per property, in total over the workers (default: each property's fuzz budget)
//   FUZZ_SEED     replay from this seed (a failure prints its seed and path); worker i starts at FUZZ_SEED + i
//   FUZZ_SECONDS  stop each property after this many seconds
//   FUZZ_WORKERS  vitest processes running side by side, each with its own seed and its own
//                 redis-server (default 1). The runs mostly wait on timers, Redis and sleeps, so a
//                 2-core machine keeps 8 memory workers or 16 Redis workers busy.
//   FUZZ_AVOID    features to keep out of the draws (e.g. emptyTenant), to look past a known defect
//   FUZZ_FILES    property spec files (default: every test/properties/*.property.spec.ts)
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'tiered-cache-fuzz-'));
const files = process.env.FUZZ_FILES
  ? process.env.FUZZ_FILES.split(',')
  : readdirSync('test/properties')
      .filter((f) => f.endsWith('.property.spec.ts'))
      .map((f) => `test/properties/${f}`);
const workers = Math.max(1, Number(process.env.FUZZ_WORKERS ?? 1));
const baseSeed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fff_ffff);
const runsEach = process.env.FUZZ_RUNS !== undefined ? String(Math.ceil(Number(process.env.FUZZ_RUNS) / workers)) : undefined;

// The commit the runs test (taken before they start: HEAD may move during a long run).
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() ?? '';
const started = new Date();
const codes = await Promise.all(
  Array.from({ length: workers }, (_, i) => {
    const env = { ...process.env, FUZZ: '1', FUZZ_REPORT: join(dir, `report-${i}.jsonl`), FUZZ_SEED: String((baseSeed + i) | 0) };
    if (runsEach !== undefined) env.FUZZ_RUNS = runsEach;
    // One worker prints vitest's output; the others write it to a log, read back below when
    // their vitest failed for another reason than a violation (an unhandled error, a timeout).
    const log = i === 0 ? undefined : openSync(join(dir, `worker-${i}.log`), 'w');
    const child = spawn('npx', ['vitest', 'run', '--no-file-parallelism', ...files], { stdio: log === undefined ? 'inherit' : ['ignore', log, log], env });
    return new Promise((resolve) =>
      child.on('exit', (code) => {
        if (log !== undefined) closeSync(log);
        resolve(code ?? 1);
      }),
    );
  }),
);

const rows = [];
for (let i = 0; i < workers; i++) {
  const report = join(dir, `report-${i}.jsonl`);
  if (!existsSync(report)) continue; // no property reported: that vitest failed before running any
  for (const line of readFileSync(report, 'utf8').split('\n').filter(Boolean)) rows.push({ worker: i, ...JSON.parse(line) });
}
// Why a worker's vitest failed with no violation: the error lines of its log (worker 0's went to the terminal).
const crashes = [];
codes.forEach((code, i) => {
  if (code === 0 || rows.some((r) => r.worker === i && r.failed)) return;
  const log = join(dir, `worker-${i}.log`);
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n') : [];
  const first = (re) => lines.findIndex((l) => re.test(l));
  const at = [/Unhandled (Rejection|Errors?\b)/, /FAIL|Timeout/, /Error/].map(first).find((n) => n >= 0) ?? -1;
  crashes.push({ worker: i, seed: (baseSeed + i) | 0, code, excerpt: at < 0 ? '(no output)' : lines.slice(at, at + 25).join('\n') });
});
rmSync(dir, { recursive: true, force: true });

const names = [...new Set(rows.map((r) => r.name))];
const totals = names.map((name) => {
  const of = rows.filter((r) => r.name === name);
  return {
    name,
    runs: of.reduce((n, r) => n + r.runs, 0),
    failed: of.filter((r) => r.failed).length,
    seeds: of.map((r) => r.seed),
    ms: Math.max(...of.map((r) => r.ms)),
  };
});
const runs = rows.reduce((n, r) => n + r.runs, 0);
const violations = rows.filter((r) => r.failed);
const vitestFailed = codes.filter((c) => c !== 0).length;
console.log(`\nfuzz: ${names.length} properties, ${workers} workers, ${runs} runs, ${violations.length} violations`);
for (const t of totals) console.log(`  ${t.failed ? 'VIOLATION' : 'ok       '} ${t.name}: ${t.runs} runs, seeds ${t.seeds.join(' ')}`);
for (const r of violations) console.log(`  VIOLATION ${r.name}, seed ${r.seed}, path ${r.path}\n            ${r.error}\n            ${r.counterexample}`);
for (const c of crashes) console.log(`  WORKER ${c.worker} (seed ${c.seed}) exited ${c.code} without a violation:\n${c.excerpt}`);

const env = ['FUZZ_RUNS', 'FUZZ_SEED', 'FUZZ_SECONDS', 'FUZZ_WORKERS', 'FUZZ_AVOID', 'FUZZ_FILES']
  .filter((k) => process.env[k] !== undefined)
  .map((k) => `${k}=${process.env[k]}`)
  .join(' ');
const section = [
  `## ${started.toISOString()}: ${runs} runs, ${violations.length} violations`,
  '',
  `Command: \`${env ? `${env} ` : ''}npm run fuzz\``,
  `Took ${Math.round((Date.now() - started.getTime()) / 1000)} s on ${commit ? `commit ${commit}, ` : ''}Node ${process.version}; ${files.length} property files, ${workers} workers (seeds ${baseSeed | 0} to ${(baseSeed + workers - 1) | 0}); vitest exit codes ${codes.join(' ')}.`,
  '',
  '| Property | Runs | Violations | Longest worker |',
  '| --- | ---: | ---: | ---: |',
  ...totals.map((t) => `| ${t.name} | ${t.runs} | ${t.failed} | ${Math.round(t.ms / 1000)} s |`),
  '',
  ...(violations.length
    ? violations.flatMap((r) => [`### Violation: ${r.name} (seed ${r.seed}, path ${r.path})`, '', '```', r.error, '', r.counterexample, '```', ''])
    : []),
  ...crashes.flatMap((c) => [`### Worker ${c.worker} (seed ${c.seed}) exited ${c.code} without a violation`, '', '```', c.excerpt, '```', '']),
].join('\n');
const head = [
  '# Fuzz runs',
  '',
  'Each `npm run fuzz` adds a section here, newest first. Replay a run with `FUZZ_WORKERS=1',
  'FUZZ_SEED=<its seed> FUZZ_FILES=<its file>` (a violation also prints the path fast-check shrank it to).',
  '',
].join('\n');
const earlier = existsSync('bench/FUZZ.md') ? readFileSync('bench/FUZZ.md', 'utf8').split('\n## ').slice(1) : [];
writeFileSync('bench/FUZZ.md', `${head}\n${section}\n${earlier.map((s) => `## ${s}`).join('\n')}`);
console.log('added a section to bench/FUZZ.md');
process.exit(violations.length > 0 || vitestFailed > 0 ? 1 : 0);
