// Runs every scenario, one child process per (scenario, variant, repetition), against the Redis server
// that run.sh started (BENCH_REDIS_URL). Collects the '@@R ' JSON lines into bench/.runs/<stamp>.jsonl and then
// writes bench/results.json and bench/RESULTS.md (report.mjs).
// env: BENCH_QUICK=1 (short smoke run), BENCH_ONLY=l1-hit,miss (subset), BENCH_SKIP_OURS=1.
import { spawn } from 'node:child_process';
import { mkdirSync, appendFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { QUICK, REDIS_URL, adminClient, log } from './lib/common.mjs';
import { oursAvailable } from './lib/variants.mjs';
import { writeReport } from './report.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const withOurs = oursAvailable() && process.env.BENCH_SKIP_OURS !== '1';

const C = QUICK
  ? { s1: { procs: 1, peerProcs: 1, windows: 3, ms: 150 }, s2: { procs: 1, peerProcs: 1, windows: 3, ms: 200 }, s3: { procs: 1, peerProcs: 1, windows: 3, ms: 200, seq: 200 }, s4: { reps: 2 }, s5: { rounds: 1, secs: 2 }, s6: { runs: 1 } }
  : { s1: { procs: 3, peerProcs: 1, windows: 10, ms: 125 }, s2: { procs: 3, peerProcs: 1, windows: 10, ms: 125 }, s3: { procs: 2, peerProcs: 1, windows: 5, ms: 300, seq: 500 }, s4: { reps: 5 }, s5: { rounds: 3, secs: 5 }, s6: { runs: 2 } };

const T = 'nestjs-tiered-cache';
const ours = (xs) => (withOurs ? xs : []);
const PLAN = [
  {
    scenario: 'l1-hit',
    script: 'scenarios/s1-l1hit.mjs',
    variants: [
      ...ours([`${T}:decorator`, `${T}:getOrSet`]),
      'bentocache:getOrSet',
      'bentocache:getOrSet [L1 serialize:false]',
      'cache-manager:wrap',
      'cache-manager:wrap [L1 useClone:false]',
      'cacheable:getOrSet',
      'cacheable:getOrSet [useClone:false]',
      '@type-cacheable:decorator [lru-cache]',
      'lru-cache:fetch',
    ],
    args: () => [C.s1.windows, C.s1.ms],
    procs: C.s1.procs, // for the variants named in a goal (primary); the others get peerProcs
    peerProcs: C.s1.peerProcs,
    primary: [`${T}:decorator`, `${T}:getOrSet`, 'bentocache:getOrSet'],
    node: ['--expose-gc'],
  },
  {
    scenario: 'l2-hit',
    script: 'scenarios/s2-l2hit.mjs',
    variants: [
      ...ours([`${T}:decorator [L1 off]`, `${T}:getOrSet [L1 off]`, `${T}:getOrSet [L1 max 1]`, `${T}:getOrSet [L1 off, user client with autopipelining]`]),
      'bentocache:getOrSet [L2 only]',
      'bentocache:getOrSet [L2 only, autopipelining]',
      'bentocache:getOrSet [L1 maxItems 1]',
      'cache-manager:wrap [L2 only]',
      'cacheable:getOrSet [L2 only]',
      '@type-cacheable:decorator [ioredis]',
    ],
    args: () => [C.s2.windows, C.s2.ms],
    procs: C.s2.procs,
    peerProcs: C.s2.peerProcs,
    primary: [`${T}:decorator [L1 off]`, `${T}:getOrSet [L1 off]`],
    node: ['--expose-gc'],
  },
  {
    scenario: 'miss',
    script: 'scenarios/s3-miss.mjs',
    variants: [
      ...ours([`${T}:decorator`, `${T}:getOrSet`, `${T}:getOrSet [lock:false]`, `${T}:getOrSet [tracking:false]`]),
      'bentocache:getOrSet',
      'cache-manager:wrap',
      'cacheable:getOrSet',
      '@type-cacheable:decorator [ioredis]',
    ],
    args: () => [C.s3.windows, C.s3.ms, C.s3.seq],
    procs: C.s3.procs,
    peerProcs: C.s3.peerProcs,
    primary: [`${T}:decorator`, `${T}:getOrSet`, `${T}:getOrSet [lock:false]`],
    node: ['--expose-gc'],
  },
  {
    scenario: 'stampede-1proc',
    script: 'scenarios/s4-stampede.mjs',
    variants: [
      ...ours([`${T}:decorator`, `${T}:getOrSet`, `${T}:getOrSet [lock:false]`]),
      'bentocache:getOrSet',
      'bentocache:getOrSet [L2 only]',
      'cache-manager:wrap',
      'cacheable:getOrSet',
      '@type-cacheable:decorator [ioredis]',
      'lru-cache:fetch',
    ],
    args: () => ['single', C.s4.reps, 1000],
    procs: 1,
  },
  {
    scenario: 'stampede-4proc',
    script: 'scenarios/s4-stampede.mjs',
    variants: [
      ...ours([`${T}:decorator`, `${T}:getOrSet`, `${T}:decorator [lock:false]`, `${T}:getOrSet [lock:false]`]),
      'bentocache:getOrSet',
      'cache-manager:wrap',
      'cacheable:getOrSet',
      '@type-cacheable:decorator [ioredis]',
    ],
    args: () => ['multi', Math.max(2, C.s4.reps - 2), 4, 250],
    procs: 1,
  },
  { scenario: 'http', script: 'scenarios/s5-http.mjs', variants: [null], args: () => [C.s5.rounds, C.s5.secs, 50], procs: 1, timeoutMs: 180_000 },
  {
    scenario: 'memory',
    script: 'scenarios/s6-memory.mjs',
    variants: ['lru-cache (raw)', ...ours([`${T}:set [L1 only]`, `${T}:getOrSet [L1+L2]`])],
    args: () => [100_000],
    procs: C.s6.runs,
    node: ['--expose-gc'],
  },
];

function runChild(script, args, nodeFlags, timeoutMs) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeFlags, script, ...args.map(String)], {
      cwd: here,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: process.env,
    });
    let buf = '';
    let errTail = '';
    const records = [];
    p.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('@@R ')) records.push(JSON.parse(line.slice(4)));
        else if (line.trim()) process.stderr.write(line + '\n');
      }
    });
    p.stderr.on('data', (d) => {
      process.stderr.write(d);
      errTail = (errTail + d).slice(-2000);
    });
    const timer = setTimeout(() => {
      log(`timeout after ${timeoutMs} ms: killing child ${p.pid}`);
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, records, errTail });
    });
  });
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(`${here}.runs`, { recursive: true });
const rawPath = `${here}.runs/${stamp}.jsonl`;
const admin = adminClient();
const redisInfo = await admin.info('server');
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.type()} ${os.release()}`,
  redis: /redis_version:(\S+)/.exec(redisInfo)?.[1],
  redisUrl: REDIS_URL,
  command: process.env.BENCH_QUICK === '1' ? 'BENCH_QUICK=1 npm run bench' : 'npm run bench',
  quick: QUICK,
  config: C,
  oursAvailable: withOurs,
  oursDist: process.env.BENCH_OURS_DIST ?? null,
  buildFailed: process.env.BENCH_BUILD_FAILED === '1',
  runStartedAt: process.env.BENCH_T0 ? Number(process.env.BENCH_T0) * 1000 : Date.now(),
};
appendFileSync(rawPath, JSON.stringify({ meta }) + '\n');

const all = [];
const failures = [];
const t0 = Date.now();
// Time budget (full runs): the whole `npm run bench` must end within 10 minutes on a 2-core machine
// that others may be loading. Each scenario has a deadline (seconds since run.sh started); when a
// scenario runs late, variants get one process instead of several, and the trim is reported.
const DEADLINES = { 'l1-hit': 170, 'l2-hit': 320, miss: 440, 'stampede-1proc': 460, 'stampede-4proc': 490, http: 550, memory: 575 };
const DEADLINE_SCALE = Number(process.env.BENCH_DEADLINE_SCALE ?? 1); // for testing the trim
const elapsedS = () => (Date.now() - meta.runStartedAt) / 1000;
meta.trimmed = [];
for (const job of PLAN) {
  if (only && !only.has(job.scenario)) continue;
  const ts = Date.now();
  const durations = [];
  const variants = job.variants;
  for (let vi = 0; vi < variants.length; vi++) {
    const variant = variants[vi];
    const planned = !job.primary || job.primary.includes(variant) ? job.procs : job.peerProcs;
    let procs = planned;
    for (let p = 0; p < procs; p++) {
      if (p > 0 && !QUICK && durations.length) {
        const avg = durations.reduce((a, b) => a + b, 0) / durations.length;
        const stillToRun = variants.length - vi - 1; // one process each, at least
        if (elapsedS() + avg * (1 + stillToRun) > DEADLINES[job.scenario] * DEADLINE_SCALE) {
          meta.trimmed.push(`${job.scenario} / ${variant ?? 'all'}: ${p} of ${planned} processes`);
          log(`.. ${job.scenario} is late (${elapsedS().toFixed(0)} s into the run): ${variant} keeps ${p} process(es)`);
          procs = p;
          break;
        }
      }
      await admin.flushall();
      const args = [...(variant === null ? [] : [variant]), ...job.args()];
      log(`== ${job.scenario} ${variant ?? ''} (process ${p + 1}/${procs})`);
      const tp = Date.now();
      const r = await runChild(job.script, args, job.node ?? [], job.timeoutMs ?? 120_000);
      durations.push((Date.now() - tp) / 1000);
      for (const rec of r.records) {
        rec.process = p;
        all.push(rec);
        appendFileSync(rawPath, JSON.stringify(rec) + '\n');
      }
      if (r.code !== 0 || !r.records.length) {
        const f = { scenario: job.scenario, library: variant, error: `exit ${r.code ?? r.signal}`, stderrTail: r.errTail.slice(-600) };
        failures.push(f);
        appendFileSync(rawPath, JSON.stringify({ failure: f }) + '\n');
        log(`!! ${job.scenario} ${variant}: ${f.error}`);
        break; // no further processes of a failing variant
      }
    }
  }
  log(`== ${job.scenario} done in ${((Date.now() - ts) / 1000).toFixed(1)} s`);
}
await admin.flushall();
await admin.quit();
meta.scenariosSeconds = (Date.now() - t0) / 1000;
meta.rawFile = rawPath.slice(here.length - 'bench/'.length);
writeReport({ meta, records: all, failures, outDir: here });
log(`wrote bench/results.json and bench/RESULTS.md (${all.length} records, ${failures.length} failures)`);
process.exit(0);
