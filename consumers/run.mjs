// npm run consumers: packs the library and installs the tarball into small Nest apps outside its
// build, each copied to a temp dir: a short e2e against a real redis-server (started here on a
// free loopback port, stopped by PID), and the README's Quick start compiled and run.
// One line per app; exit code 1 if any fails. `npm run consumers -- nest11-cjs-express` runs one.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { merge, readQuickstart } from './quickstart.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const APPS = [
  { name: 'nest11-cjs-express', flavor: 'cjs', db: 1, kind: 'CommonJS (module commonjs, node10), Express' },
  { name: 'nest12-esm-fastify', flavor: 'esm', db: 2, kind: 'ESM (nodenext), Fastify' },
];
const only = process.argv.slice(2);
const apps = only.length ? APPS.filter((a) => only.includes(a.name)) : APPS;
if (apps.length === 0) fail(`no such app: ${only.join(' ')} (apps: ${APPS.map((a) => a.name).join(', ')})`);

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'nestjs-tiered-cache-consumers-'));
let redis;
let failed = 0;
try {
  const quickstart = readQuickstart(join(root, 'README.md'));
  await run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], { cwd: root });
  const tarball = join(
    work,
    readdirSync(work).find((f) => f.endsWith('.tgz')),
  );
  redis = await startRedis(work);
  for (const app of apps) {
    const t0 = Date.now();
    try {
      const { versions, steps } = await runApp(app, { tarball, quickstart, redisPort: redis.port });
      console.log(`PASS ${app.name} (${versions}; ${app.kind}): ${steps} (${seconds(t0)})`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${app.name} (${app.kind}): ${err.message.split('\n')[0]} (${seconds(t0)})`);
      console.error(err.message.split('\n').slice(1).join('\n').split('\n').slice(-60).join('\n'));
    }
  }
} catch (err) {
  failed = failed || 1;
  console.log(`FAIL consumers: ${err.message}`);
} finally {
  if (redis) await stop(redis.child);
  if (!process.env.KEEP_CONSUMERS) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
console.log(`consumers: ${apps.length - Math.min(failed, apps.length)} passed, ${failed} failed in ${seconds(started)}`);
process.exit(failed ? 1 : 0);

async function runApp(app, { tarball, quickstart, redisPort }) {
  const dir = join(work, app.name);
  cpSync(join(here, app.name), dir, { recursive: true });
  cpSync(join(here, 'shared'), dir, { recursive: true });

  const configs = quickstart.configs.get(app.flavor) ?? new Map();
  const pkg = merge(readJson(join(dir, 'package.json')), configs.get('package.json') ?? {});
  pkg.dependencies['nestjs-tiered-cache'] = `file:${tarball}`;
  writeJson(join(dir, 'package.json'), pkg);
  const tsconfig = merge(readJson(join(dir, 'tsconfig.json')), configs.get('tsconfig.json') ?? {});
  // The README's rootDir is src/; this app also compiles its own test/ beside it.
  tsconfig.compilerOptions.rootDir = '.';
  writeJson(join(dir, 'tsconfig.json'), tsconfig);
  for (const [file, text] of quickstart.files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }

  await step('install', 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  await step('tsc', join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir });
  if (app.flavor === 'cjs') {
    // The other CommonJS setting the README names: module nodenext, where TypeScript models require(esm).
    writeJson(join(dir, 'tsconfig.nodenext.json'), {
      extends: './tsconfig.json',
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', incremental: false, noEmit: true },
    });
    await step('tsc (module nodenext)', join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.nodenext.json'], { cwd: dir });
  }
  const redisUrl = `redis://127.0.0.1:${redisPort}/${app.db}`;
  const e2e = await step('e2e', process.execPath, ['dist/test/e2e.js'], {
    cwd: dir,
    env: { ...process.env, REDIS_URL: redisUrl, CONSUMER_NAME: app.name },
    timeoutMs: 60_000,
  });
  const checked = /e2e ok: (.*)/.exec(e2e)?.[1] ?? '?';
  await step('quickstart', null, null, { run: () => runQuickstart(dir, redisUrl) });

  const version = (name) => readJson(join(dir, 'node_modules', name, 'package.json')).version;
  return {
    versions: `NestJS ${version('@nestjs/core')}, ioredis ${version('ioredis')}, @nestjs/terminus ${version('@nestjs/terminus')}, TypeScript ${version('typescript')}`,
    steps: `${checked}, README Quick start`,
  };
}

/** Starts the README's main.ts and follows the Quick start's curl steps. */
async function runQuickstart(dir, redisUrl) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const count = (text) => log.split(text).length - 1;
  const base = `http://127.0.0.1:${port}`;
  const request = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const expect = (ok, what) => {
    if (!ok) throw new Error(`${what}\n${log}`);
  };
  try {
    // Nest logs "successfully started" before the server listens: wait for the port itself.
    const deadline = Date.now() + 30_000;
    while (!(await accepts(port))) {
      expect(child.exitCode === null, `main.js exited with ${child.exitCode}`);
      expect(Date.now() < deadline, 'main.js did not start within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = await request('GET', '/products/1');
    const second = await request('GET', '/products/1');
    expect(first.price === 490 && second.price === 490, `GET /products/1 twice: ${JSON.stringify([first, second])}`);
    expect(count('SELECT product 1') === 1, 'two reads of product 1 ran the query more than once');
    const updated = await request('PATCH', '/products/1', { price: 550 });
    const after = await request('GET', '/products/1');
    expect(updated.price === 550 && after.price === 550, `after PATCH: ${JSON.stringify([updated, after])}`);
    expect(count('SELECT product 1') === 2, 'the read after the eviction did not query again');
    await request('POST', '/products/2/refresh');
    await request('GET', '/products/2');
    expect(count('SELECT product 2') === 1, '@CachePut did not store product 2 for the next read');
    const ttls = await redisTtls(redisUrl, ['shop:{product:1}', 'shop:{product:2}']);
    expect(
      ttls.every((ms) => ms > 0 && ms <= 60_000),
      `@Cacheable and @CachePut entries must both live 60 s in Redis, PTTL: ${ttls.join(', ')}`,
    );
    expect(!/ERROR|WARN/.test(log), 'the app logged a warning or an error');
  } finally {
    await stop(child);
  }
  return log;
}

async function step(name, cmd, args, options) {
  try {
    return options.run ? await options.run() : await run(cmd, args, options);
  } catch (err) {
    const cause = err.cause ? ` (${err.cause.message ?? err.cause})` : '';
    throw new Error(`${name} failed: ${err.message}${cause}`);
  }
}

function run(cmd, args, { cwd, env = process.env, timeoutMs = 300_000 }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n(killed after ${timeoutMs / 1000} s)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${[cmd, ...args].join(' ')} exited with ${code}\n${out}`));
    });
  });
}

async function startRedis(dir) {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await new Promise((ok, ko) => {
    child.once('spawn', ok);
    child.once('error', (err) => ko(new Error(`could not start redis-server (${err.message}): apt-get install redis-server`)));
  });
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('redis-server did not answer PING');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port };
}

/** PTTL of each key, in milliseconds, through a raw connection (inline commands). */
function redisTtls(redisUrl, keys) {
  const { port, pathname } = new URL(redisUrl);
  return new Promise((ok, ko) => {
    const socket = new Socket();
    let reply = '';
    socket.once('error', ko);
    socket.connect(Number(port), '127.0.0.1', () => socket.write([`SELECT ${pathname.slice(1) || 0}`, ...keys.map((k) => `PTTL ${k}`), ''].join('\r\n')));
    socket.on('data', (d) => {
      reply += d;
      const lines = reply.split('\r\n').filter(Boolean);
      if (lines.length === keys.length + 1) {
        socket.destroy();
        ok(lines.slice(1).map((l) => Number(l.slice(1))));
      }
    });
  });
}

function accepts(port) {
  return new Promise((ok) => {
    const socket = new Socket();
    socket.once('error', () => ok(false));
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      ok(true);
    });
  });
}

function ping(port) {
  return new Promise((ok) => {
    const socket = new Socket();
    socket.once('error', () => ok(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      ok(d.toString().startsWith('+PONG'));
    });
  });
}

/** SIGTERM by PID, SIGKILL after 10 s. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function freePort() {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function fail(message) {
  console.log(`FAIL consumers: ${message}`);
  process.exit(1);
}
