// What default-mode CLIENT TRACKING (no BCAST) reports to a connection with NOLOOP when that
// connection writes inside a Lua script, and whether a read inside the script tracks the key again.
// C and C2 track with NOLOOP (each redirected to its own RESP2 connection); O is another client.
//   node bench/tools/tracking-modes.mjs redis://127.0.0.1:PORT
import { Redis } from 'ioredis';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const R = new Redis(url, { protocol: 2 }); const C = new Redis(url); const O = new Redis(url); const C2 = new Redis(url); const R2 = new Redis(url, { protocol: 2 });
const got = []; const got2 = [];
R.on('message', (ch, m) => got.push(m)); R2.on('message', (ch, m) => got2.push(m));
const rid = await R.client('ID'); await R.subscribe('__redis__:invalidate');
const rid2 = await R2.client('ID'); await R2.subscribe('__redis__:invalidate');
await C.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(rid), 'NOLOOP');
await C2.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(rid2), 'NOLOOP');
const pause = () => new Promise((r) => setTimeout(r, 50));
const step = async (name, f) => { got.length = 0; got2.length = 0; await f(); await pause(); console.log(name.padEnd(60), 'C:', JSON.stringify(got), ' C2:', JSON.stringify(got2)); };
await O.del('t:k');
await step('1 C script GET k (nil); C2 GET k', async () => { await C.eval("return redis.call('GET', KEYS[1])", 1, 't:k'); await C2.get('t:k'); });
await step('2 C script SET k; EXISTS k', async () => { await C.eval("redis.call('SET', KEYS[1], 'v'); return redis.call('EXISTS', KEYS[1])", 1, 't:k'); });
await step('3 O SET k', async () => { await O.set('t:k', 'v2'); });
await step('4a C GET k; C script SET k (no reread)', async () => { await C.get('t:k'); await C.eval("return redis.call('SET', KEYS[1], 'v3')", 1, 't:k'); });
await step('4b O SET k (C should not hear: not tracked)', async () => { await O.set('t:k', 'v4'); });
await step('5 C GET k; C plain SET k', async () => { await C.get('t:k'); await C.set('t:k', 'v5'); });
await step('6 O SET k after C plain set', async () => { await O.set('t:k', 'v6'); });
await step('7 C GET; C script SET+EXISTS; O SET in pipeline', async () => { await C.get('t:k'); await Promise.all([C.eval("redis.call('SET', KEYS[1], 'v'); return redis.call('EXISTS', KEYS[1])", 1, 't:k'), O.set('t:k', 'o')]); });
await step('8 C GET k; C script DEL k', async () => { await C.get('t:k'); await C.eval("return redis.call('DEL', KEYS[1])", 1, 't:k'); });
console.log(await O.info('server').then((s) => s.match(/redis_version:\S+/)[0]));
for (const c of [R, C, O, C2, R2]) c.disconnect();
