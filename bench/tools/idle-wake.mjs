// The floor of scenario 7's wake-up, with raw ioredis and no cache: N waiter processes each hold
// <callers> pending calls for one key; the holder process sleeps <idleMs> (its "loader"), writes the
// value and PUBLISHes in one script (as the cache's FILL does), then answers its own callers; each
// waiter, on the message, GETs the key once and answers its callers with it. Prints p50/p99 of
// (caller answered − holder's loader end) in ms over all callers, per idle time.
// Same clock in every process: performance.timeOrigin + performance.now().
//   node bench/tools/idle-wake.mjs <redisUrl> [waiters=3] [rounds=20] [idle ms list=50,500] [callers=250]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { percentile } from '../lib/common.mjs';

const now = () => performance.timeOrigin + performance.now();
const [url, waitersArg = '3', roundsArg = '20', idleArg = '50,500', callersArg = '250'] = process.argv.slice(2);
const FILL = "redis.call('SET', KEYS[1], ARGV[1], 'PX', 60000) redis.call('PUBLISH', ARGV[2], ARGV[3]) return 1";

if (url === 'child') {
  // fork(here, ['child', url, callers]): the child's own arguments.
  const [redisUrl, callers] = [waitersArg, Number(roundsArg)];
  const sub = new Redis(redisUrl);
  const cmd = new Redis(redisUrl, { enableAutoPipelining: true });
  let resolvers = [];
  const armCallers = () => {
    resolvers = [];
    const calls = Array.from({ length: callers }, () => new Promise((r) => resolvers.push(r)).then(now));
    return Promise.all(calls);
  };
  let round = armCallers();
  await sub.subscribe('wake');
  sub.on('message', async (_c, key) => {
    const value = await cmd.get(key);
    for (const r of resolvers) r(value);
    const times = await round;
    round = armCallers();
    process.send(times);
  });
  process.send('ready');
} else {
  const here = fileURLToPath(import.meta.url);
  const waiters = Number(waitersArg);
  const callers = Number(callersArg);
  const holder = new Redis(url, { enableAutoPipelining: true });
  const kids = Array.from({ length: waiters }, () => fork(here, ['child', url, String(callers)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  await Promise.all(kids.map((k) => new Promise((r) => k.once('message', r))));
  const value = 'x'.repeat(1000);
  for (const idle of idleArg.split(',').map(Number)) {
    const lat = [];
    for (let r = 0; r < Number(roundsArg); r++) {
      const key = `wake:${idle}:${r}`;
      const replies = kids.map((k) => new Promise((res) => k.once('message', res)));
      // The holder's own callers wait for its loader, as in the cache's stampede.
      const own = Array.from({ length: callers }, () => new Promise((res) => setTimeout(res, idle)).then(() => now()));
      await new Promise((res) => setTimeout(res, idle));
      const loadEnd = now();
      await holder.eval(FILL, 1, key, value, 'wake', key);
      for (const t of await Promise.all(own)) lat.push(Math.max(0, t - loadEnd));
      for (const times of await Promise.all(replies)) for (const t of times) lat.push(t - loadEnd);
    }
    console.log(
      `idle ${idle} ms: holder + ${waiters} waiter processes x ${callers} callers, answered after the load: p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms (${lat.length} callers)`,
    );
  }
  for (const k of kids) k.kill();
  await holder.quit();
}
