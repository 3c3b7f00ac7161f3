// Scenario 5: HTTP on Nest 12 + Fastify. The server (http-app.mjs) runs in a child process and the load
// generator (wrk, or autocannon's CLI when wrk is missing) in another. Rounds of const, tiered, interceptor
// (order rotated per round); the ratio to the floor is taken per round, medians reported.
// usage: node s5-http.mjs <rounds> <seconds> <connections>
import { fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emit, exitWithParent, log, sleep } from '../lib/common.mjs';
import { oursAvailable } from '../lib/variants.mjs';

exitWithParent();
const [roundsArg = '3', secondsArg = '5', connArg = '50'] = process.argv.slice(2);
const rounds = Number(roundsArg);
const seconds = Number(secondsArg);
const connections = Number(connArg);
const withOurs = oursAvailable() && process.env.BENCH_SKIP_OURS !== '1';

const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));
const AUTOCANNON = fileURLToPath(new URL('../../node_modules/autocannon/autocannon.js', import.meta.url));

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

const toMs = (n, unit) => Number(n) * ({ us: 1e-3, ms: 1, s: 1000, m: 60_000 }[unit] ?? 1);

async function load(url, secs) {
  if (WRK) {
    const out = await run(WRK, ['-t1', `-c${connections}`, `-d${secs}s`, '--latency', url]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p99 = /\s99%\s+([\d.]+)(us|ms|s|m)\b/.exec(out);
    const p50 = /\s50%\s+([\d.]+)(us|ms|s|m)\b/.exec(out);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const errs = /Socket errors: (.*)/.exec(out)?.[1] ?? null;
    return { rps, p50Ms: p50 ? toMs(p50[1], p50[2]) : null, p99Ms: p99 ? toMs(p99[1], p99[2]) : null, non2xx, socketErrors: errs, tool: 'wrk' };
  }
  const out = await run(process.execPath, [AUTOCANNON, '-j', '-c', String(connections), '-d', String(secs), url]);
  const j = JSON.parse(out);
  return { rps: j.requests.average, p50Ms: j.latency.p50, p99Ms: j.latency.p99, non2xx: j.non2xx, socketErrors: j.errors || null, tool: 'autocannon' };
}

const app = fork(fileURLToPath(new URL('./http-app.mjs', import.meta.url)), [], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  env: { ...process.env, BENCH_WITH_OURS: withOurs ? '1' : '0', NODE_ENV: 'production' },
});
const port = await new Promise((resolve, reject) => {
  app.on('message', (m) => m?.type === 'listening' && resolve(m.port));
  app.on('exit', (code) => reject(new Error(`http app exited ${code}`)));
});
const base = `http://127.0.0.1:${port}`;
const routes = [['floor', '/const/1'], ...(withOurs ? [['nestjs-tiered-cache:decorator', '/tiered/1']] : []), ['@nestjs/cache-manager:CacheInterceptor', '/interceptor/1']];

let exitCode = 0;
try {
  // correctness: every route returns the same body
  const bodies = {};
  for (const [name, path] of routes) {
    const r = await fetch(base + path);
    bodies[name] = await r.text();
    if (r.status !== 200) throw new Error(`${path} answered ${r.status}`);
  }
  const ref = bodies.floor;
  const mismatched = Object.entries(bodies).filter(([, b]) => b !== ref).map(([n]) => n);
  if (mismatched.length) log('s5: body mismatch for', mismatched.join(', '));

  for (const [, path] of routes) await load(base + path, Math.min(2, seconds)); // warm-up
  const results = Object.fromEntries(routes.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const order = routes.map((_, i) => routes[(i + r) % routes.length]);
    for (const [name, path] of order) {
      const res = await load(base + path, seconds);
      results[name].push(res);
      log(`s5 round ${r} ${name}: ${Math.round(res.rps)} req/s p99 ${res.p99Ms}ms`);
    }
  }
  const callCounts = await (await fetch(base + '/__calls')).json();
  for (const [name] of routes) {
    emit({
      scenario: 'http',
      library: name,
      kind: name === 'floor' ? 'floor' : name.startsWith('nestjs-tiered-cache') ? 'ours' : 'peer',
      connections,
      seconds,
      runs: results[name],
      floorRuns: results.floor.map((x) => x.rps),
      loaderCalls: name.startsWith('nestjs') ? callCounts.tiered : name.startsWith('@nestjs') ? callCounts.interceptor : null,
      bodyMatchesFloor: !mismatched.includes(name),
      tool: results[name][0]?.tool,
    });
  }
} catch (e) {
  log('s5 failed:', e.stack);
  exitCode = 1;
}
app.send({ type: 'close' });
await sleep(500);
if (app.exitCode === null) app.kill('SIGKILL');
process.exit(exitCode);
