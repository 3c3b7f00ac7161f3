// Scenario 4: cold-key stampede, 50 ms loader.
//   single: 1 000 concurrent callers in this process, one fresh key per repetition (1 unrecorded cold-JIT rep first).
//   multi:  the parent forks 4 processes x 250 callers; they fire at one wall-clock instant on one fresh key.
// The loader counts itself in Redis (INCR on a counter beside the key), so calls are counted across processes.
// Latency of each call: from its issue to its resolution; reported as p50/p99 and p99 / loader duration.
// usage: node s4-stampede.mjs <variant> single <reps> <callers>
//        node s4-stampede.mjs <variant> multi <reps> <procs> <callersPerProc>
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { adminClient, emit, exitWithParent, log, makeValue, median, percentile, sleep } from '../lib/common.mjs';
import { createVariant, VARIANTS } from '../lib/variants.mjs';

const LOADER_MS = 50;
const [variant, mode, ...rest] = process.argv.slice(2);

async function setupCaller(prefix) {
  const counter = adminClient();
  let loaderDurations = [];
  let localCalls = 0;
  const loader = async (id) => {
    localCalls++;
    const t = performance.now();
    await counter.incr(`bench:stampede:calls:${id}`);
    await sleep(LOADER_MS);
    loaderDurations.push(performance.now() - t);
    return { ...makeValue(id), token: `${process.pid}:${localCalls}` };
  };
  const v = await createVariant(variant, { loader, prefix });
  return {
    v,
    counter,
    async fire(id, callers) {
      loaderDurations = [];
      const before = localCalls;
      const lat = new Array(callers);
      const tokens = new Set();
      let errors = 0;
      const ps = new Array(callers);
      const key = `item:${id}`;
      for (let c = 0; c < callers; c++) {
        const t0 = performance.now();
        ps[c] = v.fetch(id, key).then(
          (val) => {
            lat[c] = performance.now() - t0;
            tokens.add(val?.token);
          },
          () => {
            lat[c] = performance.now() - t0;
            errors++;
          },
        );
      }
      await Promise.all(ps);
      return {
        localLoaderCalls: localCalls - before,
        p50: median(lat),
        p99: percentile(lat, 99),
        max: Math.max(...lat),
        loaderMs: loaderDurations.length ? median(loaderDurations) : null,
        tokens: [...tokens],
        errors,
      };
    },
    async close() {
      await v.close();
      await counter.quit();
    },
  };
}

if (mode === 'single') {
  exitWithParent();
  const reps = Number(rest[0] ?? 5);
  const callers = Number(rest[1] ?? 1000);
  const s = await setupCaller('bench:s4:');
  const runs = [];
  for (let r = 0; r <= reps; r++) {
    const id = 900_000 + r;
    const res = await s.fire(id, callers);
    res.loaderCalls = Number(await s.counter.get(`bench:stampede:calls:${id}`));
    if (r > 0) runs.push(res); // rep 0 is the cold-JIT rep
    else log(`s4 single ${variant} cold rep: loaderCalls=${res.loaderCalls} p99=${res.p99.toFixed(1)}ms`);
    await sleep(20);
  }
  emit({
    scenario: 'stampede-1proc',
    library: variant,
    kind: VARIANTS[variant].kind,
    callers,
    loaderMsNominal: LOADER_MS,
    reps: runs.map((x) => ({ loaderCalls: x.loaderCalls, p50Ms: x.p50, p99Ms: x.p99, maxMs: x.max, loaderMs: x.loaderMs, distinctValues: x.tokens.length, errors: x.errors })),
  });
  log(`s4 single ${variant}: loaderCalls`, runs.map((x) => x.loaderCalls).join(','), 'p99', runs.map((x) => x.p99.toFixed(1)).join(','));
  await s.close();
  process.exit(0);
} else if (mode === 'child') {
  exitWithParent();
  const s = await setupCaller('bench:s4mp:');
  process.on('message', async (msg) => {
    if (msg.type === 'fire') {
      const wait = msg.at - Date.now();
      if (wait > 3) await sleep(wait - 2);
      while (Date.now() < msg.at); // spin the last ms so all processes start together
      const started = Date.now();
      const res = await s.fire(msg.id, msg.callers);
      process.send({ type: 'result', rep: msg.rep, startSkewMs: started - msg.at, ...res });
    } else if (msg.type === 'close') {
      await s.close();
      process.exit(0);
    }
  });
  process.send({ type: 'ready' });
} else if (mode === 'multi') {
  exitWithParent();
  const reps = Number(rest[0] ?? 3);
  const procs = Number(rest[1] ?? 4);
  const callers = Number(rest[2] ?? 250);
  const admin = adminClient();
  const self = fileURLToPath(import.meta.url);
  const children = [];
  const inbox = [];
  let notify = null;
  for (let p = 0; p < procs; p++) {
    const ch = fork(self, [variant, 'child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    ch.on('message', (m) => {
      inbox.push(m);
      notify?.();
    });
    ch.on('exit', (code) => {
      if (code) inbox.push({ type: 'crash', code });
      notify?.();
    });
    children.push(ch);
  }
  const waitFor = async (type, n) => {
    for (;;) {
      if (inbox.some((m) => m.type === 'crash')) throw new Error('a child process exited early');
      const got = inbox.filter((m) => m.type === type);
      if (got.length >= n) {
        for (const g of got) inbox.splice(inbox.indexOf(g), 1);
        return got;
      }
      await new Promise((r) => (notify = r));
    }
  };
  let exitCode = 0;
  try {
    await waitFor('ready', procs);
    const runs = [];
    for (let r = 0; r <= reps; r++) {
      const id = 800_000 + r;
      const at = Date.now() + 150;
      for (const ch of children) ch.send({ type: 'fire', rep: r, id, at, callers });
      const results = await waitFor('result', procs);
      const loaderCalls = Number(await admin.get(`bench:stampede:calls:${id}`));
      const tokens = new Set(results.flatMap((x) => x.tokens));
      const rec = {
        loaderCalls,
        perProcessLoaderCalls: results.map((x) => x.localLoaderCalls),
        p99Ms: median(results.map((x) => x.p99)),
        maxP99Ms: Math.max(...results.map((x) => x.p99)),
        p50Ms: median(results.map((x) => x.p50)),
        maxMs: Math.max(...results.map((x) => x.max)),
        loaderMs: median(results.map((x) => x.loaderMs).filter((x) => x != null)),
        distinctValues: tokens.size,
        startSkewMs: Math.max(...results.map((x) => x.startSkewMs)),
        errors: results.reduce((a, x) => a + x.errors, 0),
      };
      if (r > 0) runs.push(rec);
      else log(`s4 multi ${variant} cold rep: loaderCalls=${loaderCalls}`);
      await sleep(50);
    }
    emit({
      scenario: 'stampede-4proc',
      library: variant,
      kind: VARIANTS[variant].kind,
      procs,
      callersPerProc: callers,
      loaderMsNominal: LOADER_MS,
      reps: runs,
    });
    log(`s4 multi ${variant}: loaderCalls`, runs.map((x) => x.loaderCalls).join(','), 'p99', runs.map((x) => x.p99Ms.toFixed(1)).join(','));
  } catch (e) {
    log(`s4 multi ${variant} failed: ${e.message}`);
    exitCode = 1;
  }
  for (const ch of children) if (ch.connected) ch.send({ type: 'close' });
  await sleep(300);
  for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  await admin.quit();
  process.exit(exitCode);
}
