// What default-mode CLIENT TRACKING (no BCAST) reports to a connection with NOLOOP when that
// connection writes inside a Lua script, and whether a read inside the script tracks the key again.
// C and C2 track with NOLOOP (each redirected to its own RESP2 connection); O is another client.
//   node bench/tools/tracking-modes.mjs redis://127.0.0.1:PORT
import { Redis } from 'ioredis';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const KEY = 't:k';
const READ = "return redis.call('GET', KEYS[1])";
const WRITE_THEN_READ = "redis.call('SET', KEYS[1], 'v'); return redis.call('EXISTS', KEYS[1])";
const write = (value) => `return redis.call('SET', KEYS[1], '${value}')`;
const DELETE = "return redis.call('DEL', KEYS[1])";

const C = new Redis(url);
const C2 = new Redis(url);
const O = new Redis(url);

/** Turns tracking on for `client`, redirected to a RESP2 connection of its own; returns what that one receives. */
async function track(client) {
  const redirect = new Redis(url, { protocol: 2 });
  const got = [];
  redirect.on('message', (_channel, message) => got.push(message));
  const id = await redirect.client('ID');
  await redirect.subscribe('__redis__:invalidate');
  await client.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'NOLOOP');
  return { got, redirect };
}
const c = await track(C);
const c2 = await track(C2);

async function step(name, f) {
  c.got.length = 0;
  c2.got.length = 0;
  await f();
  await new Promise((r) => setTimeout(r, 50));
  console.log(name.padEnd(60), 'C:', JSON.stringify(c.got), ' C2:', JSON.stringify(c2.got));
}

await O.del(KEY);
await step('1 C script GET k (nil); C2 GET k', async () => {
  await C.eval(READ, 1, KEY);
  await C2.get(KEY);
});
await step('2 C script SET k; EXISTS k', () => C.eval(WRITE_THEN_READ, 1, KEY));
await step('3 O SET k', () => O.set(KEY, 'v2'));
await step('4a C GET k; C script SET k (no reread)', async () => {
  await C.get(KEY);
  await C.eval(write('v3'), 1, KEY);
});
await step('4b O SET k (C should not hear: not tracked)', () => O.set(KEY, 'v4'));
await step('5 C GET k; C plain SET k', async () => {
  await C.get(KEY);
  await C.set(KEY, 'v5');
});
await step('6 O SET k after C plain set', () => O.set(KEY, 'v6'));
await step('7 C GET; C script SET+EXISTS; O SET in pipeline', async () => {
  await C.get(KEY);
  await Promise.all([C.eval(WRITE_THEN_READ, 1, KEY), O.set(KEY, 'o')]);
});
await step('8 C GET k; C script DEL k', async () => {
  await C.get(KEY);
  await C.eval(DELETE, 1, KEY);
});
console.log((await O.info('server')).match(/redis_version:\S+/)[0]);
for (const client of [C, C2, O, c.redirect, c2.redirect]) client.disconnect();
