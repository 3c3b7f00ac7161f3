#!/usr/bin/env node
// npm run mutants: proof that the property suites have teeth (issue 13). Each patch under
// test/mutants/ puts one of issue 12's defects back into the current lib/; it is applied to a
// temporary copy of the repository (node_modules symlinked) and the property suites run there
// with a fuzzing budget. A mutant is caught when a property reports a violation.
//
//   MUTANTS           patches to run, by name prefix (`MUTANTS=04,07`); default: every patch
//   MUTANT_SECONDS    time limit of each in-memory property, per mutant (default 40: a defect that
//                     needs one racy ordering, like 10, was caught after 1 to 19 runs at ~1–3 runs/s)
//   MUTANT_FLEET_SECONDS  time limit of each real-Redis property, per mutant (default 60; 0 skips the stage)
//   FUZZ_SEED         passed on (replay a run)
//   --baseline        also run the suites on the unpatched copy first (it must pass)
//   FUZZ_AVOID        features kept out of the draws (default none): to look past an open defect of
//                     lib/ (*.examples.spec.ts), so a mutant is caught by its own defect, not by one
//                     the baseline has too
//
// Stages run in order and a mutant stops at the first that catches it: the in-memory
// interleavings (fast, thousands of orderings), then the real-Redis fleet (decorators, real
// time: TTLs, bus outages). A patch whose header says `# stages: fleet` skips the first (none
// does today: the in-memory runs have the decorators and the scenarios every mutant needs). Prints caught / missed per mutant with the seconds it took
// and writes bench/MUTANTS.md. Exits 1 if any mutant was missed. Not part of `npm test`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const repo = resolve('.');
const patchDir = join(repo, 'test/mutants');
const only = process.env.MUTANTS?.split(',').filter(Boolean);
const patches = readdirSync(patchDir)
  .filter((f) => f.endsWith('.patch'))
  .filter((f) => !only || only.some((o) => f.startsWith(o)))
  .sort();
const memSeconds = Number(process.env.MUTANT_SECONDS ?? 40);
const fleetSeconds = Number(process.env.MUTANT_FLEET_SECONDS ?? 60);

const STAGES = [
  { name: 'memory', files: ['test/properties/interleavings.property.spec.ts'], seconds: memSeconds },
  { name: 'fleet', files: ['test/properties/redis-fleet.property.spec.ts'], seconds: fleetSeconds },
];

const SKIP = new Set(['node_modules', '.git', 'dist', 'build', 'coverage', '.stryker-tmp', 'reports', '.scratch', '.vitest']);

/** A copy of the working tree (minus node_modules and build output), node_modules symlinked. */
function copyRepo() {
  const dir = mkdtempSync(join(tmpdir(), 'tiered-cache-mutant-'));
  for (const entry of readdirSync(repo)) {
    if (SKIP.has(entry)) continue;
    cpSync(join(repo, entry), join(dir, entry), { recursive: true, filter: (src) => !SKIP.has(basename(src)) });
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Runs one stage's property files in `dir`; returns the properties' report rows and vitest's status. */
function runStage(dir, stage) {
  const report = join(dir, `report-${stage.name}.jsonl`);
  const r = spawnSync('npx', ['vitest', 'run', '--no-file-parallelism', '--bail=1', ...stage.files], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: {
      ...process.env,
      FUZZ: '1',
      FUZZ_RUNS: process.env.FUZZ_RUNS ?? '1000000',
      FUZZ_SECONDS: String(stage.seconds),
      FUZZ_END_ON_FAILURE: '1',
      FUZZ_REPORT: report,
      // Features to keep out of the draws, should the unpatched lib/ have an open defect again
      // (see test/properties/*.examples.spec.ts), so a mutant is caught by its own defect.
      FUZZ_AVOID: process.env.FUZZ_AVOID ?? '',
    },
  });
  let rows = [];
  if (existsSync(report))
    rows = readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  return { rows, status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function mutantHeader(file) {
  const lines = readFileSync(join(patchDir, file), 'utf8').split('\n');
  const header = [];
  for (const l of lines) {
    if (!l.startsWith('#')) break;
    header.push(l.replace(/^# ?/, ''));
  }
  const stages = header
    .find((l) => l.startsWith('stages:'))
    ?.slice('stages:'.length)
    .trim()
    .split(/[ ,]+/);
  return { summary: header.filter((l) => l && !l.startsWith('stages:')).join(' '), stages };
}

function check(file) {
  const started = Date.now();
  const dir = copyRepo();
  try {
    const { summary, stages } = file ? mutantHeader(file) : { summary: 'unpatched lib/', stages: undefined };
    if (file) {
      const applied = spawnSync('git', ['apply', join(patchDir, file)], { cwd: dir, encoding: 'utf8' });
      if (applied.status !== 0) return { file, summary, result: 'error', detail: `git apply failed: ${applied.stderr.trim()}`, seconds: 0 };
    }
    const runs = [];
    for (const stage of STAGES) {
      if ((stages && !stages.includes(stage.name)) || !(stage.seconds > 0)) continue;
      const { rows, status, output } = runStage(dir, stage);
      runs.push(...rows.map((r) => `${r.name}: ${r.runs} runs`));
      const failed = rows.find((r) => r.failed);
      if (failed) {
        return {
          file,
          summary,
          result: 'caught',
          by: failed.name,
          runs: failed.runs,
          detail: `${failed.error?.split('\n')[0]} (seed ${failed.seed}, path ${failed.path})`,
          seconds: (Date.now() - started) / 1000,
          stage: stage.name,
        };
      }
      if (status !== 0) {
        const tail = output
          .split('\n')
          .filter((l) => /Error|FAIL|✗|×/.test(l))
          .slice(0, 5)
          .join(' | ');
        return {
          file,
          summary,
          result: 'error',
          detail: `vitest exited ${status} with no property violation: ${tail}`,
          seconds: (Date.now() - started) / 1000,
        };
      }
    }
    return { file, summary, result: file ? 'missed' : 'passed', detail: runs.join('; '), seconds: (Date.now() - started) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const startedAt = new Date();
const results = [];
if (process.argv.includes('--baseline')) {
  const base = check(undefined);
  console.log(`baseline (no patch): ${base.result} in ${base.seconds.toFixed(0)} s${base.result === 'passed' ? '' : `: ${base.detail}`}`);
  if (base.result !== 'passed') process.exit(1);
}
for (const file of patches) {
  const r = check(file);
  results.push(r);
  const what = r.result === 'caught' ? `caught by "${r.by}" after ${r.runs} runs (${r.stage})` : r.result;
  console.log(`${r.result === 'caught' ? 'CAUGHT' : r.result.toUpperCase()}  ${file.replace(/\.patch$/, '')}  ${r.seconds.toFixed(0)} s  ${what}`);
  if (r.detail) console.log(`        ${r.detail.slice(0, 300)}`);
}
const caught = results.filter((r) => r.result === 'caught').length;
const total = (Date.now() - startedAt.getTime()) / 1000;
console.log(`\nmutants: ${caught} caught, ${results.length - caught} not caught, of ${results.length} (${total.toFixed(0)} s)`);

const env = ['MUTANTS', 'MUTANT_SECONDS', 'MUTANT_FLEET_SECONDS', 'FUZZ_SEED']
  .filter((k) => process.env[k] !== undefined)
  .map((k) => `${k}=${process.env[k]}`)
  .join(' ');
if (!only) {
  const md = [
    '# Mutant check',
    '',
    "Each patch under `test/mutants/` reintroduces one of issue 12's defects into the current `lib/`;",
    '`npm run mutants` applies it to a temporary copy and runs the property suites there',
    `(in-memory interleavings for ${memSeconds} s per property, then the real-Redis fleet for ${fleetSeconds} s per property, each stopping at the first violation).`,
    '',
    `Command: \`${env ? `${env} ` : ''}npm run mutants\``,
    `Date: ${startedAt.toISOString()} (${total.toFixed(0)} s, 2 cores shared), Node ${process.version}.`,
    '',
    `**${caught} of ${results.length} caught.**`,
    '',
    '| Mutant | Defect | Result | Caught by | Runs | Time |',
    '| --- | --- | --- | --- | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.file.replace(/\.patch$/, '')} | ${r.summary.replace(/\|/g, '\\|')} | ${r.result} | ${r.by ?? ''} | ${r.runs ?? ''} | ${r.seconds.toFixed(0)} s |`,
    ),
    '',
    '## First violation of each',
    '',
    ...results.flatMap((r) => [`- **${r.file.replace(/\.patch$/, '')}**: ${(r.detail ?? '').replace(/\n/g, ' ').slice(0, 400)}`]),
    '',
  ].join('\n');
  writeFileSync(join(repo, 'bench/MUTANTS.md'), md);
  console.log('wrote bench/MUTANTS.md');
}
process.exit(caught === results.length ? 0 : 1);
