import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The short version of the chaos soak (`npm run soak` runs 60 s and writes bench/SOAK.md): three
 * sample-app processes on one redis-server, HTTP load, Redis SIGSTOPped, its pub/sub clients
 * killed, SIGKILLed and restarted. Asserts correctness only (no wall-time figures): no failed
 * request, no read older than an acknowledged write by more than l1.ttl + 500 ms, no lost write.
 * See soak/README.md.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const running = new Set<ChildProcess>();

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      running.delete(child);
      resolve({ code, output });
    });
  });
}

describe('chaos soak (short)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiered-cache-soak-spec-'));

  beforeAll(async () => {
    // `npm test` builds the library in pretest; the sample app the soak starts is compiled here.
    if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it in pretest)');
    const { code, output } = await run([join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.app.json']);
    if (code !== 0) throw new Error(`tsc -p tsconfig.app.json failed:\n${output}`);
  }, 180_000);

  afterAll(() => {
    // The soak stops its own processes on SIGTERM.
    for (const child of running) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails no request and serves no read staler than the bound while Redis is stopped, killed and its subscribers dropped', async () => {
    const json = join(dir, 'soak.json');
    const { code, output } = await run([join(ROOT, 'soak/run.mjs')], {
      SOAK_SECONDS: '14',
      SOAK_REPORT: '-',
      SOAK_JSON: json,
    });
    // 0: every goal met, 1: a goal missed (asserted below, latency is not), 2: could not run.
    expect(code === 0 || code === 1, output).toBe(true);
    const r = JSON.parse(readFileSync(json, 'utf8'));

    expect(new Set(r.faults.map((f: { kind: string }) => f.kind))).toEqual(new Set(['stop', 'pubsub', 'kill']));
    expect(r.requests.reads).toBeGreaterThan(0);
    expect(r.acknowledgedWrites).toBeGreaterThan(0);
    expect(r.failed.reads, output).toBe(0);
    expect(r.failed.writes, JSON.stringify(r.failed.writeFailures)).toBe(0);
    expect(r.stale.violations, JSON.stringify(r.stale.episodes)).toBe(0);
    expect(r.writeMismatches).toEqual([]);
    expect(r.lostUpdates).toEqual([]);
  }, 180_000);
});
