#!/usr/bin/env node
// npm run fuzz: the property suites with a fuzzing budget. Prints runs, violations and seeds,
// and writes bench/FUZZ.md.
//   FUZZ_RUNS     runs per property (default: each property's own fuzz budget)
//   FUZZ_SEED     replay from this seed (a failure prints its seed and path)
//   FUZZ_SECONDS  stop each property after this many seconds
//   FUZZ_AVOID    features to keep out of the draws (e.g. emptyTenant), to look past a known defect
//   FUZZ_FILES    property spec files (default: every test/properties/*.property.spec.ts)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'tiered-cache-fuzz-'));
const report = join(dir, 'report.jsonl');
const files = process.env.FUZZ_FILES
  ? process.env.FUZZ_FILES.split(',')
  : readdirSync('test/properties')
      .filter((f) => f.endsWith('.property.spec.ts'))
      .map((f) => `test/properties/${f}`);

const started = new Date();
const vitest = spawnSync('npx', ['vitest', 'run', '--no-file-parallelism', ...files], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ: '1', FUZZ_REPORT: report },
});

let rows = [];
try {
  rows = readFileSync(report, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch {
  // no property reported: vitest failed before running any
}
rmSync(dir, { recursive: true, force: true });

const runs = rows.reduce((n, r) => n + r.runs, 0);
const violations = rows.filter((r) => r.failed);
console.log(`\nfuzz: ${rows.length} properties, ${runs} runs, ${violations.length} violations`);
for (const r of rows) {
  console.log(
    `  ${r.failed ? 'VIOLATION' : 'ok       '} ${r.name}: ${r.runs} runs, seed ${r.seed}${r.failed ? `, path ${r.path}` : ''}${r.interrupted ? ' (stopped at FUZZ_SECONDS)' : ''}`,
  );
  if (r.failed) console.log(`            ${r.error}\n            ${r.counterexample}`);
}

const env = ['FUZZ_RUNS', 'FUZZ_SEED', 'FUZZ_SECONDS', 'FUZZ_AVOID', 'FUZZ_FILES']
  .filter((k) => process.env[k] !== undefined)
  .map((k) => `${k}=${process.env[k]}`)
  .join(' ');
const md = [
  '# Fuzz runs',
  '',
  `Command: \`${env ? `${env} ` : ''}npm run fuzz\``,
  `Date: ${started.toISOString()} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`,
  `Node ${process.version}, ${files.length} property files; vitest exit code ${vitest.status}.`,
  '',
  `**${runs} runs, ${violations.length} violations.** Replay a run with \`FUZZ_SEED=<seed>\` (and the same FUZZ_RUNS).`,
  '',
  '| Property | Runs | Result | Seed | Path | Time |',
  '| --- | ---: | --- | ---: | --- | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.runs} | ${r.failed ? 'violation' : r.interrupted ? 'ok (time limit)' : 'ok'} | ${r.seed} | ${r.path ?? ''} | ${Math.round(r.ms / 1000)} s |`,
  ),
  '',
  ...(violations.length
    ? [
        '## Violations',
        '',
        ...violations.flatMap((r) => [`### ${r.name} (seed ${r.seed}, path ${r.path})`, '', '```', r.error, '', r.counterexample, '```', '']),
      ]
    : []),
].join('\n');
writeFileSync('bench/FUZZ.md', `${md}\n`);
console.log('wrote bench/FUZZ.md');
process.exit(violations.length > 0 || vitest.status !== 0 ? 1 : 0);
